"""
### Monthly tier review

Runs on the evaluation day (default the 5th, 06:00 UTC). Builds the marts as
of the last day of the previous month (a new month in the tier history, with
upgrades, downgrades and the gap to the next tier), checks them at the marts
quality gate, publishes them and notifies customers whose tier changed, each
change exactly once. A deadline alert fires if the review has not finished
within the configured hours (env `TIERWISE_REVIEW_DEADLINE_HOURS`, default 6).

Re-evaluate a past month: trigger with `{"as_of_date": "2025-06-30"}`.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DeadlineAlert, DeadlineReference, dag, task
from airflow.sdk.definitions.callback import SyncCallback

from tierwise.orchestration import WRITER_POOL, dag_defaults, params, run_stage

REVIEW_CRON = os.environ.get("TIERWISE_REVIEW_CRON", "0 6 5 * *")
DEADLINE_HOURS = float(os.environ.get("TIERWISE_REVIEW_DEADLINE_HOURS", "6"))


@dag(
    dag_id="tierwise_monthly_review",
    schedule=REVIEW_CRON,
    **dag_defaults(),
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(hours=DEADLINE_HOURS),
        callback=SyncCallback("tierwise.alerts.deadline_missed"),
    ),
    tags=["tierwise", "review"],
    doc_md=__doc__,
    params=params("as_of_date", "full_refresh", "dry_run_publish"),
)
def tierwise_monthly_review() -> None:
    @task(pool=WRITER_POOL)
    def evaluate() -> dict:
        return run_stage("build")

    @task(pool=WRITER_POOL)
    def marts_quality_gate(built: dict) -> dict:
        return run_stage("validate", "marts")

    @task(pool=WRITER_POOL)
    def publish(gate: dict) -> dict:
        return run_stage("publish", ("files", "database", "crm"))

    @task(pool=WRITER_POOL)
    def notify_tier_changes(published: dict) -> dict:
        return run_stage("publish", ("notifications",))

    notify_tier_changes(publish(marts_quality_gate(evaluate())))


tierwise_monthly_review()
