"""Value parsing runs as SQL in DuckDB; these tests evaluate the generated SQL for real."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from tierwise.ingest.config import ParseHints
from tierwise.ingest.mapping import future_cutoff, parse_scalar
from tierwise.ingest.sql import literal


def evaluate(text: str | None, type_name: str, hints: ParseHints | None = None) -> object:
    value = "null::varchar" if text is None else literal(text)
    sql = parse_scalar(f"nullif(trim({value}), '')", type_name, hints or ParseHints())
    with duckdb.connect() as con:
        row = con.execute(f"select {sql}").fetchone()
    return row[0] if row else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.50", Decimal("12.50")),
        ("£12.50", Decimal("12.50")),
        ("12.50 €", Decimal("12.50")),
        ("$ 1234", Decimal("1234.00")),
        ("1,234.50", None),  # a thousands separator needs a hint: "1,234" could be 1.234
        ("twelve", None),
        ("", None),
        (None, None),
    ],
)
def test_amounts_default_hints(text, expected) -> None:
    assert evaluate(text, "DECIMAL(18,2)") == expected


@pytest.mark.parametrize(
    ("text", "hints", "expected"),
    [
        ("1,234.50", ParseHints(thousands_separator=","), Decimal("1234.50")),
        ("£1,234,567.89", ParseHints(thousands_separator=","), Decimal("1234567.89")),
        ("1.234,50", ParseHints(decimal_separator=",", thousands_separator="."), Decimal("1234.50")),
        ("1 234,50 €", ParseHints(decimal_separator=",", thousands_separator=" "), Decimal("1234.50")),
        ("12,5", ParseHints(decimal_separator=","), Decimal("12.50")),
        ("CHF 9.90", ParseHints(currency_symbols=("CHF",)), Decimal("9.90")),
    ],
)
def test_amounts_with_locale_hints(text, hints, expected) -> None:
    assert evaluate(text, "DECIMAL(18,2)", hints) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("6", 6), ("-3", -3), ("6.0", 6), ("6.5", None), ("6x", None)]
)
def test_integers_never_round(text, expected) -> None:
    assert evaluate(text, "INTEGER") == expected


def test_dates_in_several_formats_are_tried_in_order() -> None:
    hints = ParseHints(date_formats=("%d/%m/%Y %H:%M", "%d.%m.%Y", "%m-%d-%Y"))
    assert evaluate("2024-03-01 10:15:00", "TIMESTAMP", hints) == datetime(2024, 3, 1, 10, 15)  # ISO always
    assert evaluate("01/03/2024 10:15", "TIMESTAMP", hints) == datetime(2024, 3, 1, 10, 15)
    assert evaluate("01.03.2024", "TIMESTAMP", hints) == datetime(2024, 3, 1)
    assert evaluate("03-01-2024", "DATE", hints) == date(2024, 3, 1)
    assert evaluate("2024-02-30", "DATE", hints) is None
    assert evaluate("01/03/2024 10:15", "TIMESTAMP") is None  # not without the hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("Y", True), ("1", True), ("no", False), ("0", False), ("maybe", None)],
)
def test_booleans(text, expected) -> None:
    assert evaluate(text, "BOOLEAN") is expected


def test_future_cutoff_is_file_date_or_interval_end_plus_one_day() -> None:
    interval = (date(2024, 1, 1), date(2024, 2, 1))
    assert future_cutoff(date(2024, 1, 5), interval) == date(2024, 1, 6)
    assert future_cutoff(None, interval) == date(2024, 2, 2)
    assert future_cutoff(None, None) is None
