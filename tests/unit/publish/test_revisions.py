"""The tier-change revision log: one revision per content change, retractions, idempotent."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from tierwise.exceptions import PublishError
from tierwise.publish.revisions import EVENTS, reconcile
from tierwise.publish.state import ensure_tables

AS_OF = date(2024, 1, 31)


@pytest.fixture
def marts(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    ensure_tables(con)
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.tier_changes as select * from (values
            ('C1|2023-12-31', 'C1', date '2023-12-31', 'unrated', 'bronze', 'entry', 'r'),
            ('C1|2024-01-31', 'C1', date '2024-01-31', 'bronze', 'silver', 'upgrade', 'r'),
            ('C2|2024-01-31', 'C2', date '2024-01-31', 'silver', 'gold', 'upgrade', 'r'),
            ('C3|2024-01-31', 'C3', date '2024-01-31', 'gold', 'silver', 'downgrade', 'r'),
            ('C4|2024-02-29', 'C4', date '2024-02-29', 'gold', 'platinum', 'upgrade', 'r')
        ) t(change_key, customer_id, as_of_date, from_tier_code, to_tier_code, change_type, reason)
        """
    )
    return con


def logged(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[object, ...]]:
    rows = con.execute(
        "select change_key, to_tier_code, revision, retracted from ops.tier_change_revisions"
    ).fetchall()
    return {str(row[0]): tuple(row[1:]) for row in rows}


def test_first_publish_logs_revision_one_and_a_rerun_writes_nothing(marts: duckdb.DuckDBPyConnection) -> None:
    first = reconcile(marts, AS_OF, "r1", dry_run=False)
    assert (first.new, first.corrected, first.retracted) == (4, 0, 0)
    assert logged(marts) == {
        "C1|2023-12-31": ("bronze", 1, False),
        "C1|2024-01-31": ("silver", 1, False),
        "C2|2024-01-31": ("gold", 1, False),
        "C3|2024-01-31": ("silver", 1, False),
    }  # C4 is a later evaluation: not in this publish's scope
    before = marts.execute("select * from ops.tier_change_revisions order by all").fetchall()
    again = reconcile(marts, AS_OF, "r2", dry_run=False)
    assert (again.new, again.corrected, again.retracted) == (0, 0, 0)
    assert marts.execute("select * from ops.tier_change_revisions order by all").fetchall() == before
    assert marts.execute(f"select count(*) from {again.relation}").fetchone() == (4,)


def test_a_rebuild_revises_changed_events_and_retracts_vanished_ones(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    reconcile(marts, AS_OF, "r1", dry_run=False)
    marts.execute(
        "update marts.tier_changes set to_tier_code = 'platinum' where change_key = 'C2|2024-01-31'"
    )
    marts.execute("delete from marts.tier_changes where change_key = 'C3|2024-01-31'")
    found = reconcile(marts, AS_OF, "r2", dry_run=False)
    assert (found.new, found.corrected, found.retracted) == (0, 1, 1)
    log = logged(marts)
    assert log["C2|2024-01-31"] == ("platinum", 2, False)
    assert log["C3|2024-01-31"] == ("silver", 2, True)  # keeps the content it retracts
    assert log["C1|2024-01-31"] == ("silver", 1, False)
    assert reconcile(marts, AS_OF, "r3", dry_run=False).retracted == 0  # retracted once
    marts.execute(
        "insert into marts.tier_changes values ('C3|2024-01-31', 'C3', date '2024-01-31', "
        "'gold', 'bronze', 'downgrade', 'r')"
    )
    assert reconcile(marts, AS_OF, "r4", dry_run=False).corrected == 1
    assert logged(marts)["C3|2024-01-31"] == ("bronze", 3, False)


def test_an_earlier_evaluation_leaves_later_events_alone(marts: duckdb.DuckDBPyConnection) -> None:
    reconcile(marts, date(2024, 2, 29), "r1", dry_run=False)
    found = reconcile(marts, AS_OF, "r2", dry_run=False)  # republishing January
    assert (found.corrected, found.retracted) == (0, 0)
    assert logged(marts)["C4|2024-02-29"] == ("platinum", 1, False)
    later = f"select count(*) from {found.relation} where as_of_date > ?"
    assert marts.execute(later, [AS_OF]).fetchone() == (0,)


def test_a_dry_run_computes_the_revisions_and_writes_nothing(marts: duckdb.DuckDBPyConnection) -> None:
    reconcile(marts, AS_OF, "r1", dry_run=False)
    marts.execute("delete from marts.tier_changes where change_key = 'C2|2024-01-31'")
    found = reconcile(marts, AS_OF, "dry", dry_run=True)
    assert found.retracted == 1 and logged(marts)["C2|2024-01-31"] == ("gold", 1, False)
    row = marts.execute(f"select revision, retracted from {EVENTS} where change_key = 'C2|2024-01-31'")
    assert row.fetchone() == (2, True)


def test_a_dry_run_needs_no_log_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema marts")
    con.execute(
        "create table marts.tier_changes as select 'C1|2024-01-31' as change_key, 'C1' as customer_id, "
        "date '2024-01-31' as as_of_date, 'gold' as to_tier_code, 'entry' as change_type"
    )
    assert reconcile(con, AS_OF, "dry", dry_run=True).new == 1
    assert con.execute(
        "select count(*) from information_schema.tables where table_schema = 'ops'"
    ).fetchone() == (0,)


def test_duplicate_change_keys_are_refused_before_anything_is_logged(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    marts.execute("insert into marts.tier_changes select * from marts.tier_changes where customer_id = 'C2'")
    with pytest.raises(PublishError, match="1 duplicate change_key"):
        reconcile(marts, AS_OF, "r1", dry_run=False)
    assert marts.execute(
        "select count(*) from information_schema.tables where table_name = 'tier_change_revisions'"
    ).fetchone() == (0,)
