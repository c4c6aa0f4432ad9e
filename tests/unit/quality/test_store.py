"""ops.quality_results: what a gate run stores, and what later runs and publishing read back."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb

from tierwise.quality import store
from tierwise.quality.report import ERROR, FAILED, PASSED, ExpectationResult


def result(suite: str, check: str, outcome: str, observed: str | None = None) -> ExpectationResult:
    success = {PASSED: True, FAILED: False}.get(outcome)
    return ExpectationResult(suite, check, "expect_x", None, "critical", outcome, success, observed)


def write(
    con: duckdb.DuckDBPyConnection, run_id: str, day: int, gate: str, *results: ExpectationResult
) -> None:
    at = datetime(2024, 5, day, 6, 0)
    store.write_results(
        con, list(results), run_id=run_id, validated_at=at, as_of_date=date(2024, 4, 30), gate=gate
    )


def test_every_field_of_a_result_is_stored_with_its_sample_rows() -> None:
    checked = ExpectationResult(
        suite="raw.contacts",
        check="contacts.email_format_fail",
        expectation_type="expect_column_values_to_match_regex",
        column="email",
        severity="critical",
        outcome=FAILED,
        success=False,
        observed_value="12.5% unexpected",
        element_count=8,
        unexpected_count=1,
        unexpected_percent=12.5,
        failing_rows=({"_source_file": "c.csv", "_source_line": 4},),
    )
    with duckdb.connect() as con:
        write(con, "r1", 1, "raw", checked)
        row = con.execute(f"select * exclude (details) from {store.TABLE}").fetchone()
        details = con.execute(f"select details from {store.TABLE}").fetchone()
    assert row == (
        "r1",
        datetime(2024, 5, 1, 6, 0),
        date(2024, 4, 30),
        "raw",
        "raw.contacts",
        "contacts.email_format_fail",
        "expect_column_values_to_match_regex",
        "email",
        "critical",
        "failed",
        False,
        "12.5% unexpected",
        8,
        1,
        12.5,
    )
    assert details is not None
    assert json.loads(details[0]) == {
        "failing_rows": [{"_source_file": "c.csv", "_source_line": 4}],
        "error": None,
    }


def test_a_rerun_replaces_only_its_own_gates_rows() -> None:
    with duckdb.connect() as con:
        write(con, "r1", 1, "raw", result("raw.orders", "orders.volume", PASSED, "10"))
        write(con, "r1", 1, "marts", result("marts.customer_tiers", "customer_tiers.not_empty", PASSED))
        write(con, "r1", 1, "raw")
        rows = con.execute(f"select run_id, gate from {store.TABLE}").fetchall()
    assert rows == [("r1", "marts")]


def test_the_volume_of_the_last_passed_run_of_another_run_id_is_the_reference() -> None:
    with duckdb.connect() as con:
        assert store.previous_row_count(con, "raw.orders", "now") is None  # no table yet
        write(con, "r1", 1, "raw", result("raw.orders", "orders.volume", PASSED, "1000"))
        write(con, "r2", 2, "raw", result("raw.orders", "orders.volume", PASSED, "1200"))
        write(con, "r3", 3, "raw", result("raw.orders", "orders.volume", FAILED, "5"))
        write(con, "r4", 4, "raw", result("raw.contacts", "contacts.volume", PASSED, "77"))
        assert store.previous_row_count(con, "raw.orders", "now") == 1200
        assert store.previous_row_count(con, "raw.orders", "r2") == 1000
        assert store.previous_row_count(con, "raw.contacts", "now") == 77
        assert store.previous_row_count(con, "raw.tickets", "now") is None


def test_the_latest_gate_run_names_its_failed_and_broken_checks() -> None:
    with duckdb.connect() as con:
        assert store.latest_run(con, "marts", after=None) is None
        write(con, "m1", 1, "marts", result("marts.customer_tiers", "customer_tiers.not_empty", PASSED))
        write(
            con,
            "m2",
            2,
            "marts",
            result("marts.customer_tiers", "customer_tiers.a_share_in_bounds", FAILED, "0.97"),
            result("marts.customer_value", "customer_value.not_empty", ERROR),
            result("marts.customer_tiers", "customer_tiers.not_empty", PASSED),
        )
        write(con, "x9", 9, "raw", result("raw.orders", "orders.volume", PASSED, "1"))
        latest = store.latest_run(con, "marts", after=None)
        assert latest == store.GateRun(
            "m2",
            datetime(2024, 5, 2, 6, 0),
            date(2024, 4, 30),
            ("customer_tiers.a_share_in_bounds (observed 0.97)",),
            ("customer_value.not_empty",),
        )
        assert not latest.passed
        first = store.latest_run(con, "marts", after=datetime(2024, 5, 1))
        assert first is not None and first.run_id == "m2"
        assert store.latest_run(con, "marts", after=datetime(2024, 5, 2, 6, 0)) is None
        write(con, "m3", 3, "marts", result("marts.customer_tiers", "customer_tiers.not_empty", PASSED))
        newest = store.latest_run(con, "marts", after=None)
        assert newest is not None and (newest.run_id, newest.passed) == ("m3", True)
