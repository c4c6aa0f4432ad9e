"""The table specs and type mappings the PostgreSQL and SQLite destinations share."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from tests.fakes.warehouse import build_marts

from tierwise.publish.engine import AllAccepted, Batch, Record
from tierwise.publish.errors import DestinationUnavailableError
from tierwise.publish.retry import RetryableError, RetryPolicy
from tierwise.publish.sources import tier_columns
from tierwise.publish.tables import (
    OUTBOX_TABLE,
    RetriedTableWriter,
    TableSpec,
    pg_type,
    quote,
    sqlite_type,
    sqlite_value,
)

SPEC = TableSpec(
    "events",
    "change_key",
    (("change_key", "VARCHAR"), ("revision", "INTEGER"), ("retracted", "BOOLEAN")),
    OUTBOX_TABLE,
    added_defaults=(("revision", "1"), ("retracted", "false")),
)


def test_a_spec_names_its_key_and_the_defaults_of_added_columns() -> None:
    assert SPEC.names == ("change_key", "revision", "retracted")
    assert SPEC.non_key == ("revision", "retracted")
    assert (SPEC.added("revision"), SPEC.added("retracted"), SPEC.added("change_key")) == (
        " default 1",
        " default false",
        "",
    )


def test_identifiers_are_quoted_with_their_quotes_doubled() -> None:
    assert quote('tier "code"') == '"tier ""code"""'


def test_every_column_of_the_tier_mart_gets_its_postgresql_type(tmp_path: Path) -> None:
    with duckdb.connect(str(build_marts(tmp_path / "w.duckdb", customers=3))) as con:
        columns = tier_columns(con)
    assert {name: pg_type(kind) for name, kind in columns} == {
        "customer_id": "text",
        "as_of_date": "date",
        "measure_value": "numeric(18,2)",
        "revenue_share": "double precision",
        "cumulative_share": "double precision",
        "abc_class": "text",
        "tier_code": "text",
        "tier_name": "text",
        "tier_rank": "integer",
        "is_eligible": "boolean",
        "ineligibility_reason": "text",
        "tier_rule": "text",
        "next_tier_code": "text",
        "gap_to_next_tier": "numeric(18,2)",
    }


@pytest.mark.parametrize(
    ("duck", "pg"),
    [
        ("hugeint", "numeric(38,0)"),
        ("UBIGINT", "numeric(20,0)"),
        ("NUMERIC(9,3)", "numeric(9,3)"),
        ("BLOB", "text"),
    ],
)
def test_postgresql_types_of_wide_and_unknown_types(duck: str, pg: str) -> None:
    assert pg_type(duck) == pg


def test_sqlite_keeps_decimals_and_dates_exact_as_text() -> None:
    columns = (
        ("flag", "BOOLEAN"),
        ("rank", "INTEGER"),
        ("share", "DOUBLE"),
        ("value", "DECIMAL(18,2)"),
        ("day", "DATE"),
        ("at", "TIMESTAMP"),
    )
    row = (True, 3, 0.25, Decimal("12.50"), date(2024, 1, 31), datetime(2024, 1, 31, 8, 5, 0))
    with sqlite3.connect(":memory:") as db:
        db.execute(f"create table t ({', '.join(f'{quote(n)} {sqlite_type(k)}' for n, k in columns)})")
        db.execute("insert into t values (?, ?, ?, ?, ?, ?)", [sqlite_value(value) for value in row])
        stored = db.execute("select *, typeof(flag), typeof(share), typeof(value) from t").fetchone()
    assert stored == (1, 3, 0.25, "12.50", "2024-01-31", "2024-01-31T08:05:00", "integer", "real", "text")


class Flaky(RetriedTableWriter):
    """A table writer whose first ``failures`` attempts lose the connection."""

    name = "database.test@flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[int] = []
        self._policy = RetryPolicy(max_retries=2, base_delay=0.0, max_delay=0.0)
        self._conn = sqlite3.connect(":memory:")

    def _attempt(self, batch: Batch) -> None:
        self.attempts.append(len(batch))
        if len(self.attempts) <= self.failures:
            raise RetryableError("connection to password=hunter22 lost")


BATCH = Batch(("k",), [Record("a", "h", ("a",)), Record("b", "h", ("b",))])


def test_a_batch_is_replayed_whole_until_it_gets_through() -> None:
    writer = Flaky(failures=2)
    results = writer.send(BATCH)
    assert isinstance(results, AllAccepted)
    assert [(result.key, result.ok) for result in results] == [("a", True), ("b", True)]
    assert writer.attempts == [2, 2, 2]


def test_a_batch_that_never_gets_through_makes_the_destination_unavailable() -> None:
    writer = Flaky(failures=3)
    with pytest.raises(DestinationUnavailableError) as caught:
        writer.send(BATCH)
    assert writer.attempts == [2, 2, 2]
    assert str(caught.value).startswith("database.test@flaky: ")
    assert "hunter22" not in str(caught.value)


def test_close_releases_the_connection_once() -> None:
    writer = Flaky(failures=0)
    connection = writer._conn
    writer.close()
    writer.close()
    assert writer._conn is None
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connection.execute("select 1")
