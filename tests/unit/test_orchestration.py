"""The run context of an Airflow task, from the task context Airflow hands the task."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tierwise.exceptions import ConfigError
from tierwise.orchestration import params, run_context


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
