"""
### Tierwise pipeline: every stage in one run

Ingests the order and CRM exports into DuckDB (`raw`), checks them at the raw
quality gate, builds the customer-value and customer-tier marts with dbt
(models and tests), checks the marts at the marts quality gate, then publishes
the tiers to the local targets, refreshes the read-only BI snapshot and writes
a run summary. Not scheduled: it is the all-in-one run for the demo, first
loads and deployments that prefer one DAG; in production the daily ingestion,
the asset-triggered transform and publish DAGs and the monthly review split
the same stages.

The evaluation is as of the last day of the month before the run's logical
date (param `as_of_date` overrides it). Every task that writes the warehouse
runs in the one-slot `duckdb_writer` pool: DuckDB has a single writer.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from tierwise.orchestration import WRITER_POOL, dag_defaults, params, run_stage

SOURCES = ("orders", "contacts", "tickets")


@dag(
    dag_id="tierwise_pipeline",
    schedule=None,
    **dag_defaults(),
    tags=["tierwise", "pipeline"],
    doc_md=__doc__,
    params=params("as_of_date", "full_refresh", "dry_run_publish"),
)
def tierwise_pipeline() -> None:
    @task(pool=WRITER_POOL)
    def ingest(source: str) -> dict:
        return run_stage("ingest", source)

    @task(pool=WRITER_POOL)
    def raw_quality_gate(loaded: list[dict]) -> dict:
        return run_stage("validate", "raw")

    @task(pool=WRITER_POOL)
    def dbt_build(gate: dict) -> dict:
        return run_stage("build")

    @task(pool=WRITER_POOL)
    def marts_quality_gate(built: dict) -> dict:
        return run_stage("validate", "marts")

    @task(pool=WRITER_POOL)
    def publish(gate: dict) -> dict:
        return run_stage("publish")

    @task(pool=WRITER_POOL)
    def bi_snapshot(gate: dict) -> dict:
        return run_stage("snapshot")

    @task
    def summarize(stage_results: list[dict]) -> str:
        return run_stage("summarize", stage_results)

    loads = [ingest.override(task_id=f"ingest_{source}")(source) for source in SOURCES]
    raw_gate = raw_quality_gate(loads)
    built = dbt_build(raw_gate)
    marts_gate = marts_quality_gate(built)
    published = publish(marts_gate)
    snapshot = bi_snapshot(marts_gate)
    summarize([*loads, raw_gate, built, marts_gate, published, snapshot])


tierwise_pipeline()
