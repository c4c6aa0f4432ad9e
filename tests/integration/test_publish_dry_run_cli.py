"""``tierwise publish --dry-run`` shows which fields would change; ``--full-resync`` sends everything.

A small warehouse evaluated twice (a copy of the session's shared home, tests/workspaces.py) is
published to the local operational database (SQLite); then the
mart changes for a few customers, as a rebuild would change it. The dry run must name, for a
sample of them, each changed field with the value the database holds and the mart's new one
(both read here by plain SQL), send nothing and record nothing.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.support import leaks, personal_values
from tests.workspaces import copy_home

from tierwise.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

GATE = ["--override-gate", "dry-run field diff test"]
CHANGED = ("silver", "gold")


@dataclass
class Home:
    root: Path
    warehouse: Path
    sqlite: Path


@pytest.fixture(scope="module")
def home(two_evaluations: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("dry_run")
    patch = copy_home(two_evaluations, root)
    assert main(["publish", "--destination", "database", *GATE]) == 0
    yield Home(root, root / "warehouse" / "tierwise.duckdb", root / "publish" / "operational.sqlite")
    patch.undo()


def warehouse(home: Home, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(home.warehouse)) as con:
        return con.execute(sql, params or []).fetchall()


def operational(home: Home, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home.sqlite) as conn:
        return conn.execute(sql).fetchall()


def test_the_dry_run_names_each_changed_field_old_and_new(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "select customer_id from marts.customer_tiers where tier_code = ? order by 1 limit 3"
    keys = [row[0] for row in warehouse(home, query, [CHANGED[0]])]
    assert len(keys) == 3
    warehouse(
        home,
        "update marts.customer_tiers set tier_code = ?, measure_value = measure_value + 1.5 "
        "where customer_id in (select unnest(?::varchar[]))",
        [CHANGED[1], keys],
    )
    state_before = warehouse(home, "select * from ops.sync_state order by all")
    capsys.readouterr()
    assert main(["publish", "--destination", "database", "--dry-run", "--sample", "2", *GATE]) == 0
    out = capsys.readouterr().out
    sampled = re.compile(r"^database\.customer_tiers@\S+ changed \S+: ")
    lines = [line.strip() for line in out.splitlines() if sampled.match(line.strip())]
    assert len(lines) == 2  # --sample 2 of the 3 changed
    for key, line in zip(sorted(keys)[:2], lines, strict=True):
        old_sql = f"select measure_value from customer_tiers where customer_id = '{key}'"
        (old_value,) = operational(home, old_sql)
        new_sql = "select measure_value from marts.customer_tiers where customer_id = ?"
        (new_value,) = warehouse(home, new_sql, [key])
        expected = (
            f"database.customer_tiers@sqlite:operational.sqlite changed {key}: "
            f"measure_value {old_value[0]} -> {new_value[0]}; tier_code {CHANGED[0]} -> {CHANGED[1]}"
        )
        assert line == expected
    assert "3 changed" in out
    assert warehouse(home, "select * from ops.sync_state order by all") == state_before  # nothing recorded
    assert operational(home, f"select tier_code from customer_tiers where customer_id = '{keys[0]}'") == [
        (CHANGED[0],)
    ]
    assert leaks(personal_values(home.warehouse), {"dry run": out}) == []


def test_full_resync_from_the_cli_sends_every_row_again(home: Home) -> None:
    total = warehouse(home, "select count(*) from marts.customer_tiers")[0][0]
    assert main(["publish", "--destination", "database", "--full-resync", *GATE]) == 0
    (row,) = warehouse(
        home,
        "select total, sent, changed from ops.sync_runs where destination like 'database.customer_tiers%' "
        "order by started_at desc limit 1",
    )
    assert row[0] == total and row[1] == total  # every row sent, not only the changed ones
    mart = warehouse(home, "select customer_id, tier_code from marts.customer_tiers order by 1")
    assert operational(home, "select customer_id, tier_code from customer_tiers order by 1") == mart
