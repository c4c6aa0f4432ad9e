"""
### Tierwise pipeline: the monthly tier review, end to end

Ingests the order and CRM exports into DuckDB (`raw`), checks them at the raw
quality gate, builds the customer-value and customer-tier marts with dbt
(models and tests), checks the marts at the marts quality gate, then publishes
the tiers to the local targets and writes a run summary.

The evaluation is as of the last day of the month before the run's logical
date (param `as_of_date` overrides it). Every task that writes the warehouse
runs in the one-slot `duckdb_writer` pool: DuckDB has a single writer.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from tierwise.orchestration import DEFAULT_ARGS, WRITER_POOL

SOURCES = ("orders", "contacts", "tickets")


@dag(
    dag_id="tierwise_pipeline",
    schedule="0 6 5 * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["tierwise", "pipeline"],
    doc_md=__doc__,
    params={
        "as_of_date": Param(
            None, type=["null", "string"], format="date", description="Evaluation date override"
        ),
        "full_refresh": Param(False, type="boolean", description="Rebuild incremental models from scratch"),
        "dry_run_publish": Param(False, type="boolean", description="Compute the publish diff, send nothing"),
    },
)
def tierwise_pipeline() -> None:
    @task(pool=WRITER_POOL)
    def ingest(source: str) -> dict:
        from tierwise import pipeline
        from tierwise.orchestration import run_context

        return pipeline.ingest(source, run_context(get_current_context()))

    @task(pool=WRITER_POOL)
    def raw_quality_gate(loaded: list[dict]) -> dict:
        from tierwise import pipeline
        from tierwise.orchestration import run_context

        return pipeline.validate("raw", run_context(get_current_context()))

    @task(pool=WRITER_POOL)
    def dbt_build(gate: dict) -> dict:
        from tierwise import pipeline
        from tierwise.orchestration import run_context

        return pipeline.build(run_context(get_current_context()))

    @task(pool=WRITER_POOL)
    def marts_quality_gate(built: dict) -> dict:
        from tierwise import pipeline
        from tierwise.orchestration import run_context

        return pipeline.validate("marts", run_context(get_current_context()))

    @task(pool=WRITER_POOL)
    def publish(gate: dict) -> dict:
        from tierwise import pipeline
        from tierwise.orchestration import run_context

        return pipeline.publish(run_context(get_current_context()))

    @task
    def summarize(stage_results: list[dict]) -> str:
        from tierwise.orchestration import run_context
        from tierwise.summary import write_summary

        return str(write_summary(run_context(get_current_context()), stage_results))

    loads = [ingest.override(task_id=f"ingest_{source}")(source) for source in SOURCES]
    raw_gate = raw_quality_gate(loads)
    built = dbt_build(raw_gate)
    marts_gate = marts_quality_gate(built)
    published = publish(marts_gate)
    summarize([*loads, raw_gate, built, marts_gate, published])


tierwise_pipeline()
