"""Helpers the DAG files share: default args, the run context of a task."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

from tierwise.alerts import TierwiseAlert

WRITER_POOL = "duckdb_writer"
OWNER = "data-platform"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    # The demo and the tests set 0 so that a failure is reported at once, not after the retry delay.
    "retries": int(os.environ.get("TIERWISE_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "on_failure_callback": [TierwiseAlert("failure")],
}
ON_SUCCESS = [TierwiseAlert("recovery")]


def dag_defaults() -> dict[str, Any]:
    """What every Tierwise DAG shares: start, no catch-up, one run at a time, retries and alerts."""
    import pendulum

    return {
        "start_date": pendulum.datetime(2024, 1, 1, tz="UTC"),
        "catchup": False,
        "max_active_runs": 1,
        "default_args": DEFAULT_ARGS,
        "on_success_callback": ON_SUCCESS,
    }


_PARAM_SPECS: dict[str, tuple[Any, Any, str]] = {
    "as_of_date": (
        None,
        ["null", "string"],
        "Evaluation date (a month end); default: the month before the run",
    ),
    "full_refresh": (False, "boolean", "Rebuild incremental models from scratch"),
    "dry_run_publish": (False, "boolean", "Compute the publish diff, send nothing"),
}


def params(*names: str) -> dict[str, Any]:
    """The manual-run params a DAG offers, defined once for all DAGs."""
    from airflow.sdk import Param

    made = {}
    for name in names:
        default, kind, description = _PARAM_SPECS[name]
        extra = {"format": "date"} if name == "as_of_date" else {}
        made[name] = Param(default, type=kind, description=description, **extra)
    return made


def data_interval(context: dict[str, Any]) -> tuple[date, date]:
    """The run's data interval as dates: start inclusive, end exclusive."""
    start, end = context["data_interval_start"], context["data_interval_end"]
    return start.date(), end.date()


def run_context(context: dict[str, Any], *, interval: bool = False) -> Any:
    """Build the pipeline's RunContext from an Airflow task context (at run time only)."""
    from tierwise.pipeline import RunContext, evaluation_date_for

    params = context.get("params") or {}
    chosen = params.get("as_of_date")
    # Asset-triggered runs have no logical date; they evaluate the month before they run.
    moment = context.get("logical_date") or context["dag_run"].run_after
    as_of = date.fromisoformat(chosen) if chosen else evaluation_date_for(moment)
    return RunContext(
        run_id=context["run_id"],
        as_of_date=as_of,
        interval=data_interval(context) if interval else None,
        full_refresh=bool(params.get("full_refresh", False)),
        dry_run=bool(params.get("dry_run_publish", False)),
    )


def run_stage(stage: str, *args: Any, interval: bool = False) -> dict[str, Any]:
    """Run one pipeline stage inside an Airflow task, with the task's run context."""
    from airflow.sdk import get_current_context

    from tierwise import pipeline

    return getattr(pipeline, stage)(run_context(get_current_context(), interval=interval), *args)
