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

from airflow.sdk import dag, task
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable

from tierwise.assets import RAW, SOURCES
from tierwise.orchestration import WRITER_POOL, dag_defaults, run_stage


@dag(
    dag_id="tierwise_ingest_daily",
    # A data-interval timetable: each run owns one whole day [midnight, next midnight).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    **dag_defaults(),
    tags=["tierwise", "ingest"],
    doc_md=__doc__,
)
def tierwise_ingest_daily() -> None:
    for source in SOURCES:

        @task(task_id=f"ingest_{source}", pool=WRITER_POOL, outlets=[RAW[source]])
        def ingest(name: str = source) -> dict:
            return run_stage("ingest", name, interval=True)

        ingest()


tierwise_ingest_daily()
