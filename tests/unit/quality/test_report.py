from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from tierwise.exceptions import QualityGateError, ValidationRunError
from tierwise.quality.report import ExpectationResult, GateReport


def _result(check: str, outcome: str, **extra: object) -> ExpectationResult:
    return ExpectationResult(
        suite="raw.orders",
        check=check,
        expectation_type="expect_column_values_to_be_in_set",
        column="currency",
        severity="warning" if outcome == "warned" else "critical",
        outcome=outcome,
        success=None if outcome == "error" else outcome == "passed",
        **extra,  # type: ignore[arg-type]
    )


def _report(*results: ExpectationResult) -> GateReport:
    return GateReport(
        gate="raw",
        run_id="r1",
        as_of_date=date(2024, 5, 31),
        validated_at=datetime(2024, 6, 1),
        suites=("raw.orders",),
        results=results,
        data_docs_path=Path("/docs/index.html"),
        elapsed=1.25,
    )


FAILED = _result(
    "orders.currency_allowed",
    "failed",
    observed_value="1 unexpected of 200 (0.50%)",
    failing_rows=({"_source_file": "orders_2024-05-02.csv", "_source_line": 14, "currency": "JPY"},),
)


def test_passing_report_does_not_raise() -> None:
    report = _report(_result("orders.volume", "passed"), _result("orders.payment_method_allowed", "warned"))
    report.raise_for_failures()
    assert report.passed
    lines = report.summary_lines()
    assert lines[0] == "raw gate passed: 2 expectations on 1 suites, 0 failed, 1 warnings, 0 errors in 1.2s"
    assert lines[1].startswith("  WARNING orders.payment_method_allowed")
    assert lines[-1] == "  Data Docs: /docs/index.html"


def test_failure_names_check_observed_value_and_rows() -> None:
    report = _report(_result("orders.volume", "passed"), FAILED)
    with pytest.raises(QualityGateError) as raised:
        report.raise_for_failures()
    message = str(raised.value)
    assert "orders.currency_allowed (expect_column_values_to_be_in_set on raw.orders.currency)" in message
    assert "observed 1 unexpected of 200 (0.50%)" in message
    assert '"currency": "JPY"' in message and "Data Docs: /docs/index.html" in message


def test_errors_win_over_failures_and_are_not_a_gate_verdict() -> None:
    error = _result("orders.run", "error", error="Binder Error: column nope")
    report = _report(FAILED, error)
    assert not report.passed
    with pytest.raises(ValidationRunError) as raised:
        report.raise_for_failures()
    assert not isinstance(raised.value, QualityGateError)
    assert "could not run: Binder Error: column nope" in str(raised.value)
    assert report.summary_lines()[0].startswith("raw gate ERROR")
