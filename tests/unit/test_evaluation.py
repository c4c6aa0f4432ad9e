"""The evaluation date of a build given none: the latest order date of staging, read from raw."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import duckdb
import pytest

from tierwise.evaluation import latest_order_date

LOADED = datetime(2026, 1, 2)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        connection.execute("create schema raw")
        connection.execute(
            "create table raw.orders (order_id varchar, line_no integer, ordered_at timestamp, "
            "updated_at timestamp, _source_file varchar, _source_line bigint, _loaded_at timestamp)"
        )
        yield connection


def add(con, order_id: str, ordered_at: str, updated_at: str | None = None, loaded_at=LOADED, line=1) -> None:
    con.execute(
        "insert into raw.orders values (?, null, ?, ?, 'orders.csv', ?, ?)",
        [order_id, ordered_at, updated_at, line, loaded_at],
    )


def test_the_latest_order_date(con) -> None:
    add(con, "O1", "2025-12-30 10:00")
    add(con, "O2", "2025-12-31 23:59")
    assert latest_order_date(con) == date(2025, 12, 31)


def test_a_later_version_that_moves_the_order_date_counts(con) -> None:
    add(con, "O1", "2025-12-30 10:00")
    add(con, "O2", "2025-12-31 09:00")
    add(con, "O2", "2025-12-29 09:00", updated_at="2026-01-01 08:00", line=2)  # corrected date
    assert latest_order_date(con) == date(2025, 12, 30)


def test_a_re_export_of_the_same_version_is_decided_by_load_time(con) -> None:
    add(con, "O1", "2025-12-30 10:00")
    add(con, "O2", "2025-12-31 09:00", updated_at="2026-01-01 08:00")
    add(con, "O2", "2025-12-29 09:00", updated_at="2026-01-01 08:00", loaded_at=datetime(2026, 1, 3), line=2)
    assert latest_order_date(con) == date(2025, 12, 30)


def test_no_orders_no_date(con) -> None:
    assert latest_order_date(con) is None
    con.execute("drop table raw.orders")
    assert latest_order_date(con) is None
