from __future__ import annotations

import duckdb
import pytest

from tierwise.ingest.sql import check_type, ident, literal, parse_expression


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_quoting_survives_hostile_names(con) -> None:
    name, text = 'we"ird', "it's"
    row = con.execute(f"select {literal(text)} as {ident(name)}").fetchone()
    assert row == ("it's",)
    assert con.execute(f"select {ident(name)} from (select 1 as {ident(name)})").fetchone() == (1,)


def test_expression_columns_are_found_by_duckdbs_parser(con) -> None:
    parsed = parse_expression(con, 'greatest(Quantity, 0) * "Unit Price"')
    assert parsed.columns == {"quantity", "unit price"}
    assert not parsed.has_window
    window = parse_expression(con, "row_number() over (partition by InvoiceNo order by _source_line)")
    assert window.has_window and window.columns == {"invoiceno", "_source_line"}


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("Unit Price", "double-quoted"),
        ("1 +", "not a valid SQL expression"),
        ("1; drop table raw.orders", "not a valid SQL expression"),
        ("x from raw.orders", "single expression"),
        ("a, b", "single expression"),
        ("*", "not a field value"),
    ],
)
def test_bad_expressions_are_refused(con, sql: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_expression(con, sql)


def test_type_names_are_checked_before_use(con) -> None:
    check_type(con, "DECIMAL(18, 4)")
    with pytest.raises(ValueError):
        check_type(con, "BIGINT); select 1; --")
