"""The marts gate verdict publishing waits for, from gate runs and builds recorded in the warehouse."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from tierwise.build_state import STATE_TABLE
from tierwise.exceptions import GateNotPassedError
from tierwise.publish import gate
from tierwise.quality.report import ERROR, FAILED, PASSED, ExpectationResult
from tierwise.quality.store import write_results

RERUN = "run `tierwise validate --gate marts`"


def result(check: str, outcome: str, observed: str | None = None) -> ExpectationResult:
    success = {PASSED: True, FAILED: False}.get(outcome)
    return ExpectationResult("marts.customer_tiers", check, "x", None, "critical", outcome, success, observed)


def gate_run(con: duckdb.DuckDBPyConnection, run_id: str, at: str, *results: ExpectationResult) -> None:
    moment = datetime.fromisoformat(at)
    write_results(con, list(results), run_id=run_id, validated_at=moment, as_of_date=None, gate="marts")


def build(con: duckdb.DuckDBPyConnection, run_id: str, at: str) -> None:
    con.execute("create schema if not exists ops")
    con.execute(
        f"create table if not exists {STATE_TABLE} "
        "(as_of_date date, digest varchar, parts json, run_id varchar, built_at timestamp)"
    )
    con.execute(
        f"insert into {STATE_TABLE} values (null, null, null, ?, ?)", [run_id, datetime.fromisoformat(at)]
    )


def test_without_any_gate_run_publishing_waits_for_one(con: duckdb.DuckDBPyConnection) -> None:
    found = gate.verdict(con)
    assert (found.passed, found.run) == (False, None)
    assert found.message == f"the marts gate has not run on the marts: {RERUN} first"


def test_a_gate_run_before_the_last_build_no_longer_counts(con: duckdb.DuckDBPyConnection) -> None:
    gate_run(con, "gate-1", "2024-02-01 09:00:00", result("customer_tiers.not_empty", PASSED))
    build(con, "build-1", "2024-02-01 10:00:00")
    found = gate.verdict(con)
    assert not found.passed
    assert found.message == (
        "the marts gate has not run on the marts since they were built "
        f"(run build-1, 2024-02-01 10:00:00 UTC): {RERUN} first"
    )
    gate_run(con, "gate-2", "2024-02-01 11:00:00", result("customer_tiers.not_empty", PASSED))
    found = gate.verdict(con)
    assert (found.passed, found.message) == (
        True,
        "marts gate passed (gate run gate-2, 2024-02-01 11:00:00 UTC)",
    )
    assert found.run is not None and found.run.run_id == "gate-2"


def failed_gate(con: duckdb.DuckDBPyConnection) -> str:
    gate_run(
        con,
        "gate-3",
        "2024-02-01 12:00:00",
        result("customer_tiers.a_share_in_bounds", FAILED, "0.97"),
        result("customer_tiers.not_empty", ERROR),
        result("customer_tiers.eligible_tiered", PASSED),
    )
    return (
        "the marts gate did not pass on the marts (gate run gate-3, 2024-02-01 12:00:00 UTC): "
        "customer_tiers.a_share_in_bounds (observed 0.97); customer_tiers.not_empty could not run. "
        f"Fix the data or the thresholds, then {RERUN} again"
    )


def test_a_failed_gate_names_its_failed_and_broken_checks(con: duckdb.DuckDBPyConnection) -> None:
    expected = failed_gate(con)
    found = gate.verdict(con)
    assert (found.passed, found.message) == (False, expected)


def test_publishing_is_refused_past_a_failed_gate_unless_overridden(con: duckdb.DuckDBPyConnection) -> None:
    expected = failed_gate(con)
    with pytest.raises(GateNotPassedError) as caught:
        gate.require_passed(con, run_id="pub-1", override=None, dry_run=False)
    assert str(caught.value).startswith(f"publish refused: {expected}; to publish anyway")
    assert gate.require_passed(con, run_id="pub-1", override=None, dry_run=True) is None
    assert con.execute("select count(*) from duckdb_tables() where table_name = 'sync_runs'").fetchone() == (
        0,
    )
    note = gate.require_passed(con, run_id="pub-1", override="late data", dry_run=False)
    assert note == f"published past the marts gate, override 'late data': {expected}"
    rows = con.execute("select run_id, destination, attempt, status, error from ops.sync_runs").fetchall()
    assert rows == [("pub-1", "marts_gate", 1, "overridden", note)]


def test_a_passed_gate_lets_publishing_through_without_a_note(con: duckdb.DuckDBPyConnection) -> None:
    gate_run(con, "gate-1", "2024-02-01 09:00:00", result("customer_tiers.not_empty", PASSED))
    assert gate.require_passed(con, run_id="pub-1", override="not needed", dry_run=False) is None
