"""Building the dbt project for real on a fixture warehouse: shared by the tests in tests/dbt.

A ``Workspace`` is a copy of ``dbt_project/`` (so a test can edit its seeds) and a DuckDB
warehouse loaded from ``fixtures/raw_fixture.sql``; dbt runs in-process through
``dbtRunner`` the way the pipeline calls it.
"""

from __future__ import annotations

import gc
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
FIXTURE_SQL = Path(__file__).parent / "fixtures" / "raw_fixture.sql"
AS_OF = "2025-12-31"


def release_warehouse() -> None:
    """Drop the DuckDB database dbt-duckdb keeps open in this process after a run."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


@dataclass
class Build:
    success: bool
    failures: list[str]
    exception: BaseException | None


@dataclass
class Workspace:
    project: Path
    warehouse: Path

    def dbt(self, *args: str, dbt_vars: dict[str, Any] | None = None) -> Build:
        """One dbt command on this workspace, with ``as_of_date`` and ``dbt_vars`` as --vars."""
        from dbt.cli.main import dbtRunner

        outcome = dbtRunner().invoke(
            [
                "--log-level",
                "none",
                "--log-path",
                str(self.project / "logs"),
                *args,
                "--project-dir",
                str(self.project),
                "--profiles-dir",
                str(self.project),
                "--target-path",
                str(self.project / "target"),
                "--vars",
                json.dumps({"as_of_date": AS_OF, **(dbt_vars or {})}),
            ]
        )
        release_warehouse()
        results = getattr(outcome.result, "results", None) or []
        failures = [
            f"{item.node.unique_id}: {item.status} {item.message}"
            for item in results
            if str(getattr(item.status, "value", item.status)) in {"error", "fail", "runtime error"}
        ]
        return Build(bool(outcome.success), failures, outcome.exception)

    def rebuild_tiers(self) -> Build:
        return self.dbt("build", "--select", "tier_ladder+", "--exclude-resource-type", "test", "unit_test")

    def write_ladder(self, text: str) -> None:
        (self.project / "seeds" / "tier_ladder.csv").write_text(text, encoding="utf-8")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]


def make_workspace(root: Path, *extra_sql: str) -> Workspace:
    """A project copy and a warehouse with the fixture's raw tables, then ``extra_sql``."""
    project = root / "dbt_project"
    shutil.copytree(
        PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml")
    )
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for sql in (FIXTURE_SQL.read_text(encoding="utf-8"), *extra_sql):
            con.execute(sql)
    return Workspace(project, warehouse)
