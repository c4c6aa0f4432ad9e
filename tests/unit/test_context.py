"""The run context: made once from the settings, carrying the engine and the run's options."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from tierwise.context import RunContext, run_id_for, workspace
from tierwise.engine.duckdb import DuckDBEngine
from tierwise.exceptions import ConfigError
from tierwise.settings import EngineName


def test_the_context_reads_the_settings_the_environment_gives_now(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = RunContext.create("r1")
    monkeypatch.setenv("TIERWISE_WAREHOUSE", str(tierwise_env / "other.duckdb"))
    second = RunContext.create("r2")
    # No cache: a second context in the same process sees the changed environment.
    assert first.settings.warehouse == tierwise_env / "warehouse" / "tierwise.duckdb"
    assert second.settings.warehouse == tierwise_env / "other.duckdb"
    assert isinstance(second.engine, DuckDBEngine) and second.engine.location == str(
        tierwise_env / "other.duckdb"
    )


def test_given_settings_are_used_as_they_are(tierwise_env: Path) -> None:
    settings = workspace()
    ctx = RunContext.create(
        "r", settings=settings, as_of_date=date(2025, 12, 31), dbt_vars={"abc_method": "rank"}
    )
    assert ctx.settings is settings and ctx.engine.name is EngineName.DUCKDB
    assert (ctx.as_of_date, dict(ctx.dbt_vars)) == (date(2025, 12, 31), {"abc_method": "rank"})


def test_describe_is_what_the_run_summary_records(tierwise_env: Path) -> None:
    ctx = RunContext.create(
        "r",
        as_of_date=date(2025, 12, 31),
        interval=(date(2025, 12, 1), date(2025, 12, 2)),
        gate_override="approved",
        dbt_vars={"evaluation_window_months": "all"},
    )
    described = json.loads(json.dumps(ctx.describe()))
    assert described == {
        "run_id": "r",
        "engine": "duckdb",
        "warehouse": str(tierwise_env / "warehouse" / "tierwise.duckdb"),
        "as_of_date": "2025-12-31",
        "interval": ["2025-12-01", "2025-12-02"],
        "full_refresh": False,
        "dry_run": False,
        "gate_override": "approved",
        "dbt_vars": {"evaluation_window_months": "all"},
    }


def test_making_a_context_writes_no_environment_variable(tierwise_env: Path) -> None:
    before = dict(os.environ)
    RunContext.create("r", as_of_date=date(2025, 12, 31))
    assert dict(os.environ) == before


def test_an_unknown_engine_is_refused_by_name(tierwise_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_ENGINE", "oracle")
    with pytest.raises(ConfigError, match=r"TIERWISE_ENGINE='oracle' is not one of duckdb"):
        RunContext.create("r")


def test_run_ids_carry_their_prefix_and_second() -> None:
    from datetime import datetime

    assert run_id_for("cli_run", datetime(2026, 1, 5, 6, 7, 8)) == "cli_run__20260105T060708"
