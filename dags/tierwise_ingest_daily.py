"""
### Daily ingestion of the order and CRM exports

One task per source loads the export files of the run's data interval (a day)
into `raw`, idempotently: a file already loaded with the same checksum is
skipped, a changed file replaces its rows, and the interval's slice is
replaced in one transaction. Each task updates the Airflow Asset of its raw
table, which triggers `tierwise_transform`.

Backfill a range of days:
`airflow backfill create --dag-id tierwise_ingest_daily --from-date 2025-01-01 --to-date 2025-01-31`.
"""

from __future__ import annotations

from airflow.sdk import dag
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from tierwise.assets import RAW
from tierwise.orchestration import dag_defaults, step_tasks
from tierwise.pipeline import INGEST


@dag(
    dag_id="tierwise_ingest_daily",
    # A data-interval timetable: each run owns one whole day [midnight, next midnight).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    **dag_defaults(),
    tags=["tierwise", "ingest"],
    doc_md=__doc__,
)
def tierwise_ingest_daily() -> None:
    step_tasks((INGEST,), outlets={f"ingest_{name}": [asset] for name, asset in RAW.items()}, interval=True)


tierwise_ingest_daily()
