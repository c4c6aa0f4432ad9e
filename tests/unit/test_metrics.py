"""``tierwise metrics``: the mf process gets the workspace's project, profile and target, and no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support import settings

from tierwise.context import RunContext
from tierwise.exceptions import ConfigError
from tierwise.metrics import metricflow_command
from tierwise.settings import EngineName


def test_mf_runs_on_the_workspace_project_and_target(tierwise_env: Path) -> None:
    ctx = RunContext.create("test", settings=settings(tierwise_env / "wh.duckdb"))
    command = metricflow_command(ctx, ["--", "query", "--saved-query", "tier_overview"])
    assert command.argv[-3:] == ["query", "--saved-query", "tier_overview"]
    assert "UpdateChecker.check = lambda" in command.argv[2]
    assert command.env["DBT_PROJECT_DIR"] == command.env["DBT_PROFILES_DIR"] == str(command.cwd)
    assert command.env["TIERWISE_WAREHOUSE"] == str(tierwise_env / "wh.duckdb")
    assert command.env["TIERWISE_DBT_TARGET"] == "duckdb"


def test_without_arguments_mf_shows_its_help(tierwise_env: Path) -> None:
    ctx = RunContext.create("test", settings=settings())
    assert metricflow_command(ctx, ["--"]).argv[-1] == "--help"


def test_spark_is_refused_with_where_to_read_instead(tierwise_env: Path) -> None:
    ctx = RunContext.create("test", settings=settings(engine=EngineName.SPARK))
    with pytest.raises(ConfigError, match=r"DuckDB warehouse .* BI snapshot"):
        metricflow_command(ctx, ["query"])
