"""
### Transform and validate, whenever raw data changed

Triggered by the raw-table Assets of `tierwise_ingest_daily`. Checks the raw
exports at the raw quality gate, runs `dbt build` (models and tests) for the
current evaluation (the last month end), checks the marts at the marts quality
gate, refreshes the read-only BI snapshot and marks the validated marts Asset,
which triggers `tierwise_publish`. A failed gate stops everything after it.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from tierwise.assets import MARTS_SNAPSHOT, MARTS_VALIDATED, RAW
from tierwise.orchestration import WRITER_POOL, dag_defaults, params, run_stage


@dag(
    dag_id="tierwise_transform",
    schedule=RAW["orders"] | RAW["contacts"] | RAW["tickets"],
    **dag_defaults(),
    tags=["tierwise", "transform", "quality"],
    doc_md=__doc__,
    params=params("as_of_date", "full_refresh"),
)
def tierwise_transform() -> None:
    @task(pool=WRITER_POOL)
    def raw_quality_gate() -> dict:
        return run_stage("validate", "raw")

    @task(pool=WRITER_POOL)
    def dbt_build(gate: dict) -> dict:
        return run_stage("build")

    @task(pool=WRITER_POOL, outlets=[MARTS_VALIDATED])
    def marts_quality_gate(built: dict) -> dict:
        return run_stage("validate", "marts")

    @task(pool=WRITER_POOL, outlets=[MARTS_SNAPSHOT])
    def bi_snapshot(gate: dict) -> dict:
        return run_stage("snapshot")

    bi_snapshot(marts_quality_gate(dbt_build(raw_quality_gate())))


tierwise_transform()
