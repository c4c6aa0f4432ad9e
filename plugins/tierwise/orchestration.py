"""Helpers the DAG files share: default args, the run context of a task."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

WRITER_POOL = "duckdb_writer"
OWNER = "data-platform"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    # The demo and the tests set 0 so that a failure is reported at once, not after the retry delay.
    "retries": int(os.environ.get("TIERWISE_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def run_context(context: dict[str, Any]) -> Any:
    """Build the pipeline's RunContext from an Airflow task context (at run time only)."""
    from tierwise.pipeline import RunContext, evaluation_date_for

    params = context.get("params") or {}
    chosen = params.get("as_of_date")
    as_of = date.fromisoformat(chosen) if chosen else evaluation_date_for(context["logical_date"])
    return RunContext(
        run_id=context["run_id"],
        as_of_date=as_of,
        full_refresh=bool(params.get("full_refresh", False)),
        dry_run=bool(params.get("dry_run_publish", False)),
    )
