"""The run context: made once from the settings, carrying the engine and the run's options."""

from __future__ import annotations

import ast
import json
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


PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "tierwise"


def _environment_writes(tree: ast.AST) -> list[int]:
    """Lines that assign, delete or update os.environ entries, or call os.putenv/unsetenv."""
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "os.environ":
                lines.append(node.lineno)
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            mutators = {"os.environ.pop", "os.environ.update", "os.environ.setdefault", "os.environ.clear"}
            if called in mutators | {"os.putenv", "os.unsetenv"}:
                lines.append(node.lineno)
    return lines


def test_no_stage_reads_the_settings_or_writes_the_environment() -> None:
    """Only the run context reads the settings; nothing in the package changes the environment."""
    readers, writers = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = path.relative_to(PACKAGE).as_posix()
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
        if module != "context.py" and any(ast.unparse(call.func).endswith("load_settings") for call in calls):
            readers.append(module)
        writers += [f"{module}:{line}" for line in _environment_writes(tree)]
    assert (readers, writers) == ([], [])


def test_the_environment_scan_finds_a_write() -> None:
    tree = ast.parse("import os\nos.environ['A'] = '1'\nos.environ.pop('B', None)\ndel os.environ['C']\n")
    assert sorted(_environment_writes(tree)) == [2, 3, 4]


def test_an_unknown_engine_is_refused_by_name(tierwise_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_ENGINE", "oracle")
    with pytest.raises(ConfigError, match=r"TIERWISE_ENGINE='oracle' is not one of duckdb"):
        RunContext.create("r")


def test_run_ids_carry_their_prefix_and_second() -> None:
    from datetime import datetime

    assert run_id_for("cli_run", datetime(2026, 1, 5, 6, 7, 8)) == "cli_run__20260105T060708"
