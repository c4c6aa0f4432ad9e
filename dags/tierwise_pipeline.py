"""
### Tierwise pipeline: every stage in one run

Ingests the order and CRM exports into DuckDB (`raw`), checks them at the raw
quality gate, builds the customer-value and customer-tier marts with dbt
(models and tests), checks the marts at the marts quality gate (marts that pass
are copied to the read-only BI snapshot), publishes the tiers to the local
targets and writes a run summary and the run report
(`publish/reports/run-<as_of_date>.html`, `publish/reports/latest.html`; the
summarize task logs its path): the same steps, in the same order, as
`tierwise run` (`tierwise.pipeline.RUN_ORDER`). Not scheduled: it is the
all-in-one run for the demo, first loads and deployments that prefer one DAG;
in production the daily ingestion, the asset-triggered transform and publish
DAGs and the monthly review split the same stages.

The evaluation is as of the last day of the month before the run's logical
date (param `as_of_date` overrides it). Every task that writes the warehouse
runs in the one-slot `duckdb_writer` pool: DuckDB has a single writer.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from tierwise.orchestration import dag_defaults, params, step_tasks
from tierwise.orchestration import summarize as write_summary
from tierwise.pipeline import RUN_ORDER


@dag(
    dag_id="tierwise_pipeline",
    schedule=None,
    **dag_defaults(),
    tags=["tierwise", "pipeline"],
    doc_md=__doc__,
    params=params("as_of_date", "full_refresh", "dry_run_publish", "dbt_vars"),
)
def tierwise_pipeline() -> None:
    @task
    def summarize(stage_results: list[dict[str, Any]]) -> str:
        return write_summary(stage_results)

    summarize(step_tasks(RUN_ORDER))


tierwise_pipeline()
