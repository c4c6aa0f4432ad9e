"""
### Monthly tier review

Runs on the evaluation day (default the 5th, 06:00 UTC). Builds the marts as
of the last day of the previous month (a new month in the tier history, with
upgrades, downgrades and the gap to the next tier), checks them at the marts
quality gate (marts that pass are copied to the read-only BI snapshot),
publishes them and notifies customers whose tier changed, each change exactly
once (`tierwise.pipeline.REVIEW_ORDER`), then writes the run summary and the run
report of the evaluation (`publish/reports/run-<as_of>.html`). A deadline alert fires if the review
has not finished within the configured hours (env
`TIERWISE_REVIEW_DEADLINE_HOURS`, default 6).

Re-evaluate a past month: trigger with `{"as_of_date": "2025-06-30"}`.
`TIERWISE_REVIEW_CRON=none` leaves it to be triggered only (the demo's past months, or a
scheduler outside Airflow).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DeadlineAlert, DeadlineReference, task
from airflow.sdk.definitions.callback import SyncCallback

from tierwise.assets import MARTS_SNAPSHOT
from tierwise.orchestration import DeadlineDAG, dag_defaults, params, step_tasks
from tierwise.orchestration import summarize as write_summary
from tierwise.pipeline import MARTS_GATE, REVIEW_ORDER

REVIEW_CRON = os.environ.get("TIERWISE_REVIEW_CRON", "0 6 5 * *")
# "none": triggered runs only; unpaused with a cron, the scheduler would add its latest interval.
REVIEW_SCHEDULE = None if REVIEW_CRON.strip().lower() == "none" else REVIEW_CRON
DEADLINE_HOURS = float(os.environ.get("TIERWISE_REVIEW_DEADLINE_HOURS", "6"))

with DeadlineDAG(
    dag_id="tierwise_monthly_review",
    schedule=REVIEW_SCHEDULE,
    **dag_defaults(),
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(hours=DEADLINE_HOURS),
        callback=SyncCallback("tierwise.alerts.deadline_missed"),
    ),
    tags=["tierwise", "review"],
    doc_md=__doc__,
    params=params("as_of_date", "full_refresh", "dry_run_publish", "dbt_vars"),
):

    @task
    def summarize(stage_results: list[dict[str, Any]]) -> str:
        return write_summary(stage_results)

    summarize(step_tasks(REVIEW_ORDER, outlets={MARTS_GATE.name: [MARTS_SNAPSHOT]}))
