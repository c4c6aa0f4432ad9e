"""The build fingerprint: what an evaluation reads changes it, what it cannot read does not."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tierwise import build_state

REPO = Path(__file__).resolve().parents[2]
AS_OF = date(2025, 12, 31)
BEFORE_CUTOFF = datetime(2025, 12, 31, 23, 59)
AFTER_CUTOFF = datetime(2026, 1, 1, 0, 0)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", target, ignore=shutil.ignore_patterns("target", "logs"))
    return target


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        connection.execute("create schema raw; create schema marts")
        meta = "_source_file varchar, _source_line bigint, _file_checksum varchar, _loaded_at timestamp"
        connection.execute(f"create table raw.orders (ordered_at timestamp, updated_at timestamp, {meta})")
        connection.execute(f"create table raw.contacts (updated_at timestamp, {meta})")
        connection.execute(f"create table raw.tickets (opened_at timestamp, updated_at timestamp, {meta})")
        connection.execute(
            "create table marts.customer_tiers (customer_id varchar, as_of_date date, tier_code varchar, "
            "abc_class varchar, is_eligible boolean, measure_value decimal(18, 2), "
            "gap_to_next_tier decimal(18, 2))"
        )
        connection.execute(
            "insert into marts.customer_tiers values ('c1', '2025-12-31', 'gold', 'A', true, 10, 5)"
        )
        add_order(connection, "orders_2025-12-01.csv", 1, datetime(2025, 12, 1), None)
        yield connection


def add_order(
    con: duckdb.DuckDBPyConnection, file: str, line: int, ordered_at: datetime, updated_at: datetime | None
) -> None:
    con.execute(
        "insert into raw.orders values (?, ?, ?, ?, 'sha', ?)",
        [ordered_at, updated_at, file, line, datetime(2026, 1, 2)],
    )


def digest(con: duckdb.DuckDBPyConnection, project: Path, as_of: date = AS_OF) -> str:
    return build_state.fingerprint(con, as_of, project, {"dbt": "test"}).digest


def test_the_same_inputs_give_the_same_fingerprint(con, project) -> None:
    assert digest(con, project) == digest(con, project)


def test_records_after_the_cutoff_do_not_change_it(con, project) -> None:
    before = digest(con, project)
    add_order(con, "orders_2026-01-01.csv", 1, AFTER_CUTOFF, None)
    add_order(con, "orders_2026-01-01.csv", 2, datetime(2025, 11, 3), AFTER_CUTOFF)  # a later refund
    assert digest(con, project) == before


@pytest.mark.parametrize(
    "change",
    [
        "insert into raw.orders values ('2025-12-31 23:00', null, 'late.csv', 1, 'sha', '2026-01-02')",
        "insert into raw.contacts values ('2025-12-31 23:59', 'c.csv', 1, 'sha', '2026-01-02')",
        "insert into raw.tickets values ('2025-06-01', null, 't.csv', 1, 'sha', '2026-01-02')",
        "update raw.orders set _loaded_at = '2026-01-03'",
        "delete from raw.orders",
        "update marts.customer_tiers set tier_code = 'silver'",
        "drop table marts.customer_tiers",
    ],
)
def test_anything_the_evaluation_reads_or_writes_changes_it(con, project, change: str) -> None:
    before = digest(con, project)
    con.execute(change)
    assert digest(con, project) != before


def test_another_date_or_a_changed_rule_changes_it(con, project) -> None:
    before = digest(con, project)
    assert digest(con, project, date(2025, 11, 30)) != before
    ladder = project / "seeds" / "tier_ladder.csv"
    ladder.write_text(ladder.read_text(encoding="utf-8").replace("platinum", "diamond"), encoding="utf-8")
    assert digest(con, project) != before


def test_an_edited_rates_file_changes_it(con, project, tmp_path: Path) -> None:
    rates = tmp_path / "fx_rates.csv"
    rates.write_text("currency,valid_from,rate_to_eur\nBRL,2016-01-01,0.25932937\n", encoding="utf-8")
    settings = project / "dbt_project.yml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("fx_rates_file: null", f"fx_rates_file: {rates}"),
        encoding="utf-8",
    )
    before = digest(con, project)
    assert digest(con, project) == before
    rates.write_text(rates.read_text(encoding="utf-8").replace("0.25932937", "0.26"), encoding="utf-8")
    assert digest(con, project) != before


def test_dbt_artifacts_do_not_change_it(con, project) -> None:
    before = digest(con, project)
    (project / "target").mkdir(exist_ok=True)
    (project / "target" / "run_results.json").write_text("{}", encoding="utf-8")
    assert digest(con, project) == before


def test_an_empty_row_after_a_build_means_no_valid_build(con, project) -> None:
    assert build_state.last_build(con) is None
    fp = build_state.fingerprint(con, AS_OF, project, {})
    build_state.record(con, fp, "run-1", datetime(2026, 1, 2, 6))
    assert build_state.last_build(con) == (fp.digest, "run-1")
    # What dbt's on-run-start appends before it writes (dbt_project/macros/build_state.sql).
    con.execute("insert into ops.build_state (run_id, built_at) values ('run-2', '2026-01-02 07:00')")
    assert build_state.last_build(con) is None


def test_the_rules_in_force_are_the_projects_under_the_last_successful_builds_vars(con, project) -> None:
    defaults = build_state.rules_in_force(con, project)
    assert defaults["abc_method"] == "share" and build_state.last_build_vars(con) == {}
    fp = build_state.fingerprint(con, AS_OF, project, {"vars": {"abc_method": "rank"}})
    build_state.record(con, fp, "run-1", datetime(2026, 1, 2, 6))
    # A build that started and did not finish (no digest) does not count.
    con.execute("insert into ops.build_state (run_id, built_at) values ('run-2', '2026-01-02 07:00')")
    assert build_state.last_build_vars(con) == {"abc_method": "rank"}
    rules = build_state.rules_in_force(con, project)
    assert rules["abc_method"] == "rank"
    assert rules["abc_share_cutoffs"] == defaults["abc_share_cutoffs"]
