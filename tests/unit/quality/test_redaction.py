"""Personal values are redacted in every metric shape GX engines return; keys survive."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tierwise.quality.redaction import personal_domain_column, redact_metric

ROW = {"_source_file": "contacts.csv", "_source_line": 4, "email": "ann lee@example"}


@pytest.mark.parametrize(
    ("domain", "column"),
    [
        ({"column": "email", "batch_id": "raw-contacts"}, "email"),
        ({"column": "status"}, None),
        ({"column_A": "customer_id", "column_B": "phone"}, "phone"),
        ({"column_list": ["_source_file", "customer_id", "email"]}, "email"),
        ({"batch_id": "raw-contacts"}, None),
    ],
)
def test_personal_domain_column(domain: dict[str, Any], column: str | None) -> None:
    assert personal_domain_column(domain) == column


def test_unexpected_values_of_a_personal_column() -> None:
    values = redact_metric(["ann lee@example", "bob at example.com", "ann lee@example", None], "email")
    assert values[0] == values[2] != values[1] and values[3] is None
    assert all(value.startswith("<email:") for value in values[:3])


def test_unexpected_index_rows_keep_their_keys() -> None:
    (row,) = redact_metric([ROW], "email")
    assert (row["_source_file"], row["_source_line"]) == ("contacts.csv", 4)
    assert row["email"].startswith("<email:")


def test_rows_of_a_table_domain_lose_personal_columns_only() -> None:
    # An UnexpectedRowsExpectation's query may select a personal column: table domain, no column.
    (row,) = redact_metric([{**ROW, "phone": "+44 20 7946 0123", "status": "vip"}], None)
    assert row["phone"].startswith("<phone:") and row["email"].startswith("<email:")
    assert (row["status"], row["_source_line"]) == ("vip", 4)


def test_value_counts_keep_their_counts() -> None:
    pairs = redact_metric([("ann lee@example", 3), ("bob at example.com", 1)], "email")
    assert [count for _, count in pairs] == [3, 1] and all(value.startswith("<email:") for value, _ in pairs)
    series = redact_metric(pd.Series([3, 1], index=["ann lee@example", "bob at example.com"]), "email")
    assert list(series) == [3, 1] and all(str(value).startswith("<email:") for value in series.index)


def test_metrics_of_other_columns_are_untouched() -> None:
    assert redact_metric(["shipped", "JPY"], None) == ["shipped", "JPY"]
    assert redact_metric([{"_source_line": 14, "currency": "JPY"}], None) == [
        {"_source_line": 14, "currency": "JPY"}
    ]
