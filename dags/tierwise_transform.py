"""
### Transform and validate, whenever raw data changed

Triggered by the raw-table Assets of `tierwise_ingest_daily`. Checks the raw
exports at the raw quality gate, runs `dbt build` (models and tests) for the
current evaluation (the last month end) and checks the marts at the marts
quality gate, which copies marts that pass to the read-only BI snapshot and
marks the validated marts Asset, which triggers `tierwise_publish`. A failed
gate stops everything after it.
"""

from __future__ import annotations

from airflow.sdk import dag

from tierwise.assets import MARTS_SNAPSHOT, MARTS_VALIDATED, RAW
from tierwise.orchestration import dag_defaults, params, step_tasks
from tierwise.pipeline import BUILD, MARTS_GATE, RAW_GATE


@dag(
    dag_id="tierwise_transform",
    schedule=RAW["orders"] | RAW["contacts"] | RAW["tickets"],
    **dag_defaults(),
    tags=["tierwise", "transform", "quality"],
    doc_md=__doc__,
    params=params("as_of_date", "full_refresh", "dbt_vars"),
)
def tierwise_transform() -> None:
    step_tasks(
        ((RAW_GATE,), (BUILD,), (MARTS_GATE,)),
        outlets={MARTS_GATE.name: [MARTS_VALIDATED, MARTS_SNAPSHOT]},
    )


tierwise_transform()
