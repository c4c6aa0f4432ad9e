"""Helpers the DAG files share: default args, params, the run context of a task, step tasks.

An Airflow task's run context differs from the CLI's in one place: on the Spark engine, with no
``TIERWISE_SPARK_REMOTE``, the Spark Connect server is the Airflow connection ``tierwise_spark``
(a deployment keeps its cluster's address and token with its other connections).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import DAG

from tierwise.alerts import AlertEvent, TierwiseAlert
from tierwise.exceptions import ConfigError

if TYPE_CHECKING:
    from tierwise.context import RunContext
    from tierwise.pipeline import Step
    from tierwise.publish.connections import Connection
    from tierwise.settings import Settings

WRITER_POOL = "duckdb_writer"
SPARK_CONN_ID = "tierwise_spark"
SPARK_CONNECT_PORT = 15002
OWNER = "data-platform"
log = logging.getLogger(__name__)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    # The demo and the tests set 0 so that a failure is reported at once, not after the retry delay.
    "retries": int(os.environ.get("TIERWISE_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "on_failure_callback": [TierwiseAlert(AlertEvent.FAILURE)],
}
ON_SUCCESS = [TierwiseAlert(AlertEvent.RECOVERY)]


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
    "override_marts_gate": (
        None,
        ["null", "string"],
        "Publish although the marts gate did not pass: the reason (recorded in ops.sync_runs)",
    ),
    "dbt_vars": (
        {},
        "object",
        'Rules for this run over dbt_project.yml\'s vars, e.g. {"evaluation_window_months": "all"}',
    ),
    "ladder": (
        None,
        ["null", "string"],
        "Proposed tier ladder: a CSV with the columns of dbt_project/seeds/tier_ladder.csv, as a path "
        "the workers can read (none: the live ladder)",
    ),
}


def params(*names: str, described: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The manual-run params a DAG offers, defined once for all DAGs; ``described`` gives a DAG's
    own description of a param where it means something else there (its default)."""
    from airflow.sdk import Param

    made = {}
    for name in names:
        default, kind, description = _PARAM_SPECS[name]
        description = (described or {}).get(name, description)
        extra: dict[str, Any] = {"format": "date"} if name == "as_of_date" else {}
        made[name] = Param(default, type=kind, description=description, **extra)
    return made


def data_interval(context: Mapping[str, Any]) -> tuple[date, date]:
    """The run's data interval as dates: start inclusive, end exclusive."""
    start, end = context["data_interval_start"], context["data_interval_end"]
    return start.date(), end.date()


def spark_connect_url(connection: Connection) -> str:
    """The Spark Connect URL a connection describes: ``sc://host:port/;token=...``.

    The host (``sc://`` optional), the port (Spark Connect's 15002 when absent), the password (or
    extra ``token``) as the bearer token, the login as ``user_id`` and extra ``use_ssl``. Values
    are percent-encoded, as pyspark decodes them. The connection's reader has already handed the
    token to the masker, in this form too.
    """
    from tierwise.publish.connections import extra_flag, secret_of

    host = (connection.host or "").removeprefix("sc://").strip("/")
    if not host:
        raise ConfigError(f"connection {connection.conn_id} has no host: expected the Spark Connect server's")
    if connection.schema:
        raise ConfigError(
            f"connection {connection.conn_id}: the token goes in the password, the user in the login, "
            "use_ssl in extra; the connection has a path"
        )
    params = {
        "token": secret_of(connection, "token"),
        "user_id": connection.login,
        "use_ssl": "true" if extra_flag(connection, "use_ssl") else None,
    }
    given = ";".join(f"{key}={quote(value, safe='')}" for key, value in params.items() if value)
    return f"sc://{host}:{connection.port or SPARK_CONNECT_PORT}" + (f"/;{given}" if given else "")


def task_settings() -> Settings:
    """The settings of an Airflow task: the environment's, plus connection ``tierwise_spark``.

    The connection gives the Spark remote only to the Spark engine and only when
    ``TIERWISE_SPARK_REMOTE`` is unset (the variable wins, as on the CLI); without either, Tierwise
    starts its local Spark server. Nothing is looked up on DuckDB.
    """
    from tierwise.context import workspace
    from tierwise.publish.connections import get_connection
    from tierwise.settings import EngineName

    settings = workspace()
    if settings.engine is not EngineName.SPARK or settings.spark_remote:
        return settings
    connection = get_connection(SPARK_CONN_ID)
    return replace(settings, spark_remote=spark_connect_url(connection)) if connection else settings


def run_context(context: Mapping[str, Any], *, interval: bool = False) -> RunContext:
    """The run context of an Airflow task (at run time only): its run id, date and params."""
    from tierwise.context import RunContext
    from tierwise.pipeline import evaluation_date_for
    from tierwise.transform import parse_dbt_vars

    params = context.get("params") or {}
    chosen = params.get("as_of_date")
    # Asset-triggered runs have no logical date; they evaluate the month before they run.
    moment = context.get("logical_date") or context["dag_run"].run_after
    as_of = date.fromisoformat(chosen) if chosen else evaluation_date_for(moment)
    ctx = RunContext.create(
        context["run_id"],
        settings=task_settings(),
        as_of_date=as_of,
        interval=data_interval(context) if interval else None,
        full_refresh=bool(params.get("full_refresh", False)),
        dry_run=bool(params.get("dry_run_publish", False)),
        gate_override=params.get("override_marts_gate") or None,
    )
    # The rules are checked against the workspace's dbt project, which the context knows.
    return replace(ctx, dbt_vars=parse_dbt_vars(params.get("dbt_vars"), ctx.settings.dbt_project_dir))


def simulation(context: Mapping[str, Any]) -> dict[str, Any]:
    """The what-if of a manual run of ``tierwise_simulate``: its params' ladder, vars and date.

    No date evaluates the live marts' evaluation (the latest build), as ``tierwise simulate``.
    Returns where the report is and its headline figures (small, for XCom).
    """
    from tierwise.context import RunContext
    from tierwise.simulate import Proposal, simulate
    from tierwise.transform import parse_dbt_vars

    params = context.get("params") or {}
    chosen = params.get("as_of_date")
    settings = task_settings()
    ctx = RunContext.create(
        context["run_id"], settings=settings, as_of_date=date.fromisoformat(chosen) if chosen else None
    )
    given = parse_dbt_vars(params.get("dbt_vars"), settings.dbt_project_dir)
    ladder = params.get("ladder")
    done = simulate(ctx, Proposal(ladder=Path(ladder) if ladder else None, dbt_vars=given))
    for line in done.lines():
        log.info("%s", line)
    summary = done.summary
    return {
        "report": str(done.folder / "report.html"),
        "as_of_date": summary["as_of_date"],
        "moves": summary["moves"],
        "notifications": summary["notifications"]["proposed"],
    }


def _step_task(step: Step, outlets: list[Any], interval: bool) -> Any:
    from airflow.sdk import task

    # The results of the tasks before only order this one after them (they are small dicts).
    @task(task_id=step.name, pool=WRITER_POOL, outlets=outlets)
    def run(after: list[dict[str, Any]]) -> dict[str, Any]:
        from airflow.sdk import get_current_context

        return step.run(run_context(get_current_context(), interval=interval)).to_dict()

    return run


def step_tasks(
    order: Sequence[Sequence[Step]],
    outlets: Mapping[str, list[Any]] | None = None,
    *,
    interval: bool = False,
) -> list[Any]:
    """One task per pipeline step, each group after the one before; returns every task's result.

    ``interval``: the steps ingest only the files of the run's data interval (the daily DAG).
    """
    made: list[Any] = []
    previous: list[Any] = []
    for group in order:
        previous = [
            _step_task(step, list((outlets or {}).get(step.name, [])), interval)(previous) for step in group
        ]
        made += previous
    return made


def summarize(stage_results: Sequence[Mapping[str, Any]]) -> str:
    """Write the run summary and the run report inside an Airflow task; returns the summary's path.

    The report's path is in the task log and in the summary (text and JSON).
    """
    from airflow.sdk import get_current_context

    from tierwise import pipeline

    results = [pipeline.StageResult.from_dict(result) for result in stage_results]
    return pipeline.summarize(run_context(get_current_context()), results)


class DeadlineDAG(DAG):
    """A DAG with a deadline alert that ``airflow dags test`` can run to the end.

    Airflow 3.3's ``DAG.test()`` builds its scheduler DAG through an in-memory serialization
    round trip, which leaves the encoded alerts where the scheduler keeps ``deadline_alert`` ids;
    the last state update of the run then fails with "'dict' object has no attribute 'hex'" and
    the command exits 1 although every task succeeded (apache/airflow#73428). A test run never
    checks deadlines (the scheduler does), so it runs without them; the scheduler, which reads
    the DAG the DAG processor serialized, still has them.
    """

    def test(self, *args: Any, **kwargs: Any) -> Any:
        deadline, self.deadline = self.deadline, None
        try:
            return super().test(*args, **kwargs)
        finally:
            self.deadline = deadline
