"""The run context of an Airflow task, from the task context Airflow hands the task."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tierwise.context import RunContext
from tierwise.engine.spark import SparkEngine
from tierwise.exceptions import ConfigError
from tierwise.masking import mask
from tierwise.orchestration import params, run_context
from tierwise.settings import EngineName


def task_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "run_id": "scheduled__2026-01-05T06:00:00+00:00",
        "logical_date": datetime(2026, 1, 5, 6, tzinfo=UTC),
        "data_interval_start": datetime(2026, 1, 4, tzinfo=UTC),
        "data_interval_end": datetime(2026, 1, 5, tzinfo=UTC),
        "params": {},
    }
    return {**context, **overrides}


def test_a_scheduled_run_evaluates_the_previous_month_end(tierwise_env: Path) -> None:
    ctx = run_context(task_context())
    assert (ctx.run_id, ctx.as_of_date, ctx.interval) == (
        "scheduled__2026-01-05T06:00:00+00:00",
        date(2025, 12, 31),
        None,
    )
    assert ctx.settings.warehouse == tierwise_env / "warehouse" / "tierwise.duckdb"


def test_params_set_the_date_and_the_run_options(tierwise_env: Path) -> None:
    chosen = {
        "as_of_date": "2025-06-30",
        "full_refresh": True,
        "dry_run_publish": True,
        "override_marts_gate": "approved by finance",
        "dbt_vars": {"abc_method": "rank"},
    }
    ctx = run_context(task_context(params=chosen), interval=True)
    assert ctx.as_of_date == date(2025, 6, 30) and ctx.interval == (date(2026, 1, 4), date(2026, 1, 5))
    assert (ctx.full_refresh, ctx.dry_run, ctx.gate_override) == (True, True, "approved by finance")
    assert dict(ctx.dbt_vars) == {"abc_method": "rank"}


def test_an_asset_triggered_run_evaluates_the_month_before_it_runs(tierwise_env: Path) -> None:
    triggered = task_context(
        logical_date=None, dag_run=SimpleNamespace(run_after=datetime(2026, 3, 2, tzinfo=UTC))
    )
    assert run_context(triggered).as_of_date == date(2026, 2, 28)


def test_a_misspelt_rule_fails_the_task_by_name(tierwise_env: Path) -> None:
    with pytest.raises(ConfigError, match="unknown rule 'abc_methd'"):
        run_context(task_context(params={"dbt_vars": {"abc_methd": "rank"}}))


def test_every_param_is_offered_with_its_schema() -> None:
    offered = params("as_of_date", "dbt_vars")
    assert offered["as_of_date"].schema == {"type": ["null", "string"], "format": "date"}
    assert (
        offered["as_of_date"].description
        == "Evaluation date (a month end); default: the month before the run"
    )
    assert offered["dbt_vars"].value == {} and offered["dbt_vars"].schema["type"] == "object"


# --- the Spark remote of an Airflow task: connection tierwise_spark ---------------------------

TOKEN = "tok;en=/s3cret+value"


def airflow_connection(**fields: Any) -> Any:
    """A connection as Airflow's SDK makes it (what `airflow connections` would store)."""
    from airflow.sdk import Connection

    return Connection(conn_id="tierwise_spark", conn_type="spark_connect", **fields)


def spark_task(monkeypatch: pytest.MonkeyPatch, connection: str | None) -> RunContext:
    monkeypatch.setenv("TIERWISE_ENGINE", "spark")
    if connection is not None:
        monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_SPARK", connection)
    return run_context(task_context())


@pytest.mark.parametrize(
    "form", [pytest.param(lambda c: c.get_uri(), id="uri"), pytest.param(lambda c: c.as_json(), id="json")]
)
def test_the_spark_connection_gives_an_airflow_task_its_connect_server(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch, form: Any
) -> None:
    connection = airflow_connection(
        host="spark-connect", port=15443, login="svc", password=TOKEN, extra='{"use_ssl": true}'
    )
    ctx = spark_task(monkeypatch, form(connection))
    url = "sc://spark-connect:15443/;token=tok%3Ben%3D%2Fs3cret%2Bvalue;user_id=svc;use_ssl=true"
    assert ctx.settings.spark_remote == url
    engine = ctx.engine
    assert isinstance(engine, SparkEngine) and engine.server is None and engine.url == url
    # pyspark reads the URL back to the same token, user and TLS.
    from pyspark.sql.connect.client import DefaultChannelBuilder

    channel = DefaultChannelBuilder(url)
    assert (channel.token, channel.userId, channel.secure) == (TOKEN, "svc", True)


def test_the_spark_token_is_masked_and_kept_out_of_the_summary_and_dbt_logs(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = spark_task(monkeypatch, airflow_connection(host="sc://spark-connect", password=TOKEN).as_json())
    assert isinstance(ctx.engine, SparkEngine)
    url = ctx.engine.url
    assert url == "sc://spark-connect:15002/;token=tok%3Ben%3D%2Fs3cret%2Bvalue"
    assert TOKEN not in mask(f"cannot reach {url} ({TOKEN})")
    assert "s3cret" not in mask(url)
    assert ctx.describe()["warehouse"].startswith("Spark at sc://spark-connect:15002 (ledger ")
    env = ctx.engine.dbt_env()
    assert (env["SPARK_REMOTE"], env["TIERWISE_SPARK_HOST"]) == (url, "sc://spark-connect:15002")


def test_a_spark_connection_in_uri_form_without_a_token(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = spark_task(monkeypatch, "sc://spark-connect:15002")
    assert ctx.settings.spark_remote == "sc://spark-connect:15002"


def test_the_environment_variable_wins_over_the_connection(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERWISE_SPARK_REMOTE", "sc://cluster:15002")
    ctx = spark_task(monkeypatch, "sc://spark-connect:15002")
    assert ctx.settings.spark_remote == "sc://cluster:15002"


def test_without_remote_or_connection_the_task_starts_a_local_server(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = spark_task(monkeypatch, None)
    assert ctx.settings.spark_remote is None
    assert isinstance(ctx.engine, SparkEngine) and ctx.engine.server is not None


def test_duckdb_tasks_ignore_the_spark_connection(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_SPARK", "sc://spark-connect:15002")
    ctx = run_context(task_context())
    assert ctx.engine.name is EngineName.DUCKDB and ctx.settings.spark_remote is None


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ('{"conn_type": "spark_connect", "port": 15002}', "tierwise_spark has no host"),
        ("sc://spark-connect:15002/;token=abc", "the token goes in the password"),
    ],
)
def test_a_spark_connection_that_cannot_be_a_url_fails_the_task_by_name(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch, connection: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        spark_task(monkeypatch, connection)
