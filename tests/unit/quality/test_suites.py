"""The suites as code: which checks each table gets, and the SQL checks run on small tables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from tierwise.quality.suites import EMAIL_REGEX, PHONE_REGEX, SUITES, expectations_for, param
from tierwise.schema import ENTITIES

SUITE_NAMES = [spec.name for specs in SUITES.values() for spec in specs]


def check(expectation: Any) -> str:
    return str(expectation.meta["check"])


def test_the_raw_gate_validates_every_entity_and_the_marts_gate_both_marts() -> None:
    assert [spec.name for spec in SUITES["raw"]] == [f"raw.{name}" for name in ENTITIES]
    assert {spec.index_columns for spec in SUITES["raw"]} == {("_source_file", "_source_line")}
    assert SUITE_NAMES[3:] == ["marts.customer_value", "marts.customer_tiers"]
    assert {spec.index_columns for spec in SUITES["marts"]} == {("customer_id",)}


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_check_names_are_unique_and_start_with_their_table(suite: str) -> None:
    names = [check(expectation) for expectation in expectations_for(suite)]
    assert len(names) == len(set(names))
    assert all(name.startswith(suite.split(".")[1] + ".") for name in names), names


def test_only_the_tolerated_checks_are_warnings() -> None:
    warnings = {
        check(expectation)
        for suite in SUITE_NAMES
        for expectation in expectations_for(suite)
        if str(expectation.severity.value) == "warning"
    }
    assert warnings == {
        "orders.payment_method_allowed",
        "orders.net_amount_not_negative",
        "contacts.email_format_warn",
        "contacts.phone_format_warn",
        "tickets.severity_allowed",
        "tickets.status_allowed",
        "tickets.resolved_after_opened",
        "customer_value.clv_fits_converged",
    }


def test_tuned_values_are_parameters_not_literals() -> None:
    assert param("max_amount") == {"$PARAMETER": "max_amount"}
    [amount] = [e for e in expectations_for("raw.orders") if check(e) == "orders.gross_amount_plausible"]
    assert (amount.min_value, amount.max_value) == (0, {"$PARAMETER": "max_amount"})


@pytest.mark.parametrize(
    ("value", "email", "phone"),
    [
        ("jane.o'neil+tiers@mail.example.co.uk", True, False),
        ("not-an-email", False, False),
        ("jane@localhost", False, False),
        ("+44 20 7946 0123", False, True),
        ("+44 (0)20 7946-0123", False, True),
        ("12345", False, False),
    ],
)
def test_format_regexes(value: str, email: bool, phone: bool) -> None:
    assert (bool(re.match(EMAIL_REGEX, value)), bool(re.match(PHONE_REGEX, value))) == (email, phone)


def test_a_phone_number_may_start_with_its_area_code_in_parentheses() -> None:
    assert re.match(PHONE_REGEX, "(555) 123-4567")


def sql_check(suite: str, name: str) -> str:
    [expectation] = [e for e in expectations_for(suite) if check(e) == name]
    return str(expectation.unexpected_rows_query).replace("{batch}", "batch")


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        connection.execute("create schema marts")
        yield connection


def flagged(con: duckdb.DuckDBPyConnection, suite: str, name: str, batch: str) -> list[tuple[Any, ...]]:
    con.execute(f"create or replace table batch as {batch}")
    return con.execute(sql_check(suite, name)).fetchall()


def test_amounts_net_of_discounts_and_refunds_may_not_go_negative(con: duckdb.DuckDBPyConnection) -> None:
    batch = (
        "select * from (values ('f', 1, 'O1', 'completed', 10, 5, 6), ('f', 2, 'O2', 'cancelled', 10, 5, 6), "
        "('f', 3, 'O3', 'refunded', 10, null, 10)) "
        "as t(_source_file, _source_line, order_id, status, gross_amount, discount_amount, refunded_amount)"
    )
    assert flagged(con, "raw.orders", "orders.net_amount_not_negative", batch) == [("f", 1, "O1", 10, 5, 6)]


def test_dates_may_be_at_most_a_day_after_the_export(con: duckdb.DuckDBPyConnection) -> None:
    batch = (
        "select * from (values "
        "(1, date '2024-01-01', timestamp '2024-01-02 23:59:59', timestamp '2024-01-02 23:59:59'), "
        "(2, date '2024-01-01', timestamp '2024-01-03 00:00:00', timestamp '2024-01-03 00:00:00'), "
        "(3, date '2024-01-01', timestamp '2024-01-01 08:00:00', timestamp '2024-01-05 00:00:00')) "
        "as t(_source_line, _file_date, ordered_at, updated_at)"
    )
    lines = [
        row[1]
        for row in flagged(
            con,
            "raw.orders",
            "orders.dates_not_after_export",
            f"select 'f' as _source_file, * from ({batch})",
        )
    ]
    assert lines == [2, 3]


def test_a_ticket_is_not_resolved_before_it_was_opened(con: duckdb.DuckDBPyConnection) -> None:
    batch = (
        "select 'f' as _source_file, * from (values "
        "(1, 'T1', timestamp '2024-01-01 10:00', timestamp '2024-01-01 09:00'), "
        "(2, 'T2', timestamp '2024-01-01 10:00', timestamp '2024-01-01 11:00'), "
        "(3, 'T3', timestamp '2024-01-01 10:00', null), (4, 'T4', timestamp '2024-01-01 10:00', "
        "timestamp '2024-01-01 10:00')) as t(_source_line, ticket_id, opened_at, resolved_at)"
    )
    assert [row[2] for row in flagged(con, "raw.tickets", "tickets.resolved_after_opened", batch)] == ["T1"]


@pytest.mark.parametrize(("mart_total", "failing"), [(100.04, 0), (99.96, 0), (100.06, 1), (0.0, 1)])
def test_mart_revenue_reconciles_with_the_staged_revenue_within_the_tolerance(
    con: duckdb.DuckDBPyConnection, mart_total: float, failing: int
) -> None:
    con.execute("set variable tw_staged_net_revenue = 100.0; set variable tw_revenue_abs_tolerance = 0.05")
    batch = f"select * from (values ('C1', {mart_total} - 40), ('C2', 40.0)) as t(customer_id, net_revenue)"
    assert len(flagged(con, "marts.customer_value", "customer_value.revenue_reconciles", batch)) == failing


def test_clv_ranges_are_checked_where_the_columns_exist(con: duckdb.DuckDBPyConnection) -> None:
    without_clv = "select 'C1' as customer_id, 10.0 as net_revenue"
    assert flagged(con, "marts.customer_value", "customer_value.clv_in_range", without_clv) == []
    with_clv = (
        "select * from (values ('C1', -5.0, 10.0, 0.5), ('C2', -1.0, -2.0, 0.5), ('C3', 1.0, 2.0, 1.5)) "
        "as t(customer_id, historic_clv, predicted_clv, probability_alive)"
    )
    rows = flagged(con, "marts.customer_value", "customer_value.clv_in_range", with_clv)
    assert sorted(row[0] for row in rows) == ["C2", "C3"]


@pytest.mark.parametrize(("a_customers", "failing"), [(1, 0), (3, 0), (4, 1), (0, 1)])
def test_the_share_of_class_a_stays_within_bounds(
    con: duckdb.DuckDBPyConnection, a_customers: int, failing: int
) -> None:
    con.execute("set variable tw_a_share_min = 0.01; set variable tw_a_share_max = 0.30")
    batch = (
        f"select 'C' || i as customer_id, case when i <= {a_customers} then 'A' else 'C' end as abc_class "
        "from range(1, 11) as t(i) union all select 'X', null"
    )
    assert len(flagged(con, "marts.customer_tiers", "customer_tiers.a_share_in_bounds", batch)) == failing


def test_every_valued_customer_has_a_tier_row(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table marts.customer_value as select unnest(['C1', 'C2', 'C3']) as customer_id")
    rows = flagged(
        con, "marts.customer_tiers", "customer_tiers.every_customer_present", "select 'C2' as customer_id"
    )
    assert sorted(rows) == [("C1",), ("C3",)]
