from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tierwise.quality import outcomes


def test_error_message_reads_both_gx_shapes() -> None:
    assert outcomes.error_message(None) is None
    assert outcomes.error_message({"raised_exception": False, "exception_message": None}) is None
    assert outcomes.error_message({"raised_exception": True, "exception_message": "boom"}) == "boom"
    per_metric = {"metric-a": {"raised_exception": True, "exception_message": "column x does not exist"}}
    assert outcomes.error_message(per_metric) == "column x does not exist"


def test_plain_values() -> None:
    row = {
        "at": datetime(2024, 5, 1, 12),
        "on": date(2024, 5, 1),
        "amount": Decimal("1.50"),
        "n": float("nan"),
    }
    assert outcomes.plain(row) == {"at": "2024-05-01T12:00:00", "on": "2024-05-01", "amount": 1.5, "n": None}


@pytest.fixture(scope="module")
def gx_result() -> Any:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    def build(success: bool, severity: str, result: dict[str, Any], **kwargs: Any) -> Any:
        config = ExpectationConfiguration(
            type=kwargs.pop("type", "expect_column_values_to_be_in_set"),
            kwargs=kwargs or {"column": "currency", "value_set": ["EUR"]},
            meta={"check": "orders.currency_allowed"},
            severity=severity,
        )
        return ExpectationValidationResult(success=success, expectation_config=config, result=result)

    return build


def _no_rows(query: str, limit: int) -> list[dict[str, Any]]:
    raise AssertionError("no SQL sample expected")


def test_map_failure_keeps_counts_and_index_rows(gx_result: Any) -> None:
    result = gx_result(
        False,
        "critical",
        {
            "element_count": 200,
            "unexpected_count": 2,
            "unexpected_percent": 1.0,
            "partial_unexpected_index_list": [{"_source_line": 14, "currency": "JPY"}],
        },
    )
    converted = outcomes.convert(result, "raw.orders", "raw.orders", _no_rows)
    assert (converted.outcome, converted.success, converted.column) == ("failed", False, "currency")
    assert converted.observed_value == "2 unexpected of 200 (1.00%)"
    assert converted.failing_rows == ({"_source_line": 14, "currency": "JPY"},)


def test_warning_severity_does_not_fail(gx_result: Any) -> None:
    converted = outcomes.convert(gx_result(False, "warning", {}), "raw.orders", "raw.orders", _no_rows)
    assert (converted.outcome, converted.severity, converted.success) == ("warned", "warning", False)


def test_sql_check_rows_are_sampled_with_the_batch_substituted(gx_result: Any) -> None:
    asked: list[tuple[str, int]] = []

    def sampler(query: str, limit: int) -> list[dict[str, Any]]:
        asked.append((query, limit))
        return [{"ticket_id": "T1"}]

    result = gx_result(
        False,
        "critical",
        {"observed_value": 1},
        type="unexpected_rows_expectation",
        unexpected_rows_query="select * from {batch} where x",
    )
    converted = outcomes.convert(result, "raw.tickets", "raw.tickets", sampler)
    assert asked == [("select * from raw.tickets where x", outcomes.SAMPLE_ROWS)]
    assert (converted.observed_value, converted.failing_rows) == ("1", ({"ticket_id": "T1"},))


def test_run_error_is_neither_pass_nor_failure() -> None:
    converted = outcomes.run_error("marts.customer_value", RuntimeError("no such table"))
    assert (converted.outcome, converted.success) == ("error", None)
    assert converted.error == "RuntimeError: no such table"
