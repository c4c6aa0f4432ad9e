"""The local operational database: customer tiers mirrored into a real SQLite file."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tierwise.publish.config import DatabaseConfig
from tierwise.publish.engine import DELETE, Batch, Record
from tierwise.publish.errors import BatchRejectedError
from tierwise.publish.sqlite import SqliteTable
from tierwise.publish.tables import OUTBOX_TABLE, TableSpec

COLUMNS = ("customer_id", "tier_code", "measure_value", "is_eligible")
SPEC = TableSpec(
    "customer_tiers",
    "customer_id",
    (
        ("customer_id", "VARCHAR"),
        ("tier_code", "VARCHAR"),
        ("measure_value", "DECIMAL(18,2)"),
        ("is_eligible", "BOOLEAN"),
    ),
)
TIERS = "select customer_id, tier_code, measure_value, is_eligible, _run_id from customer_tiers order by 1"
FAST = DatabaseConfig(max_retries=0, retry_base_delay=0.0)


def upsert(key: str, tier: str, value: str, eligible: bool) -> Record:
    return Record(key, "h", (key, tier, Decimal(value), eligible))


def rows(
    path: Path,
    sql: str = TIERS,
) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def send(path: Path, run_id: str, *records: Record, spec: TableSpec = SPEC) -> SqliteTable:
    table = SqliteTable(path, spec, FAST, run_id=run_id)
    table.send(Batch(spec.names, records))
    table.close()
    return table


def test_rows_are_upserted_only_when_they_changed_and_deleted_when_removed(tmp_path: Path) -> None:
    path = tmp_path / "ops" / "operational.sqlite"
    first = send(path, "r1", upsert("C1", "gold", "12.50", True), upsert("C2", "bronze", "3.00", False))
    assert first.applied == 2
    assert rows(path) == [("C1", "gold", "12.50", 1, "r1"), ("C2", "bronze", "3.00", 0, "r1")]
    same = send(path, "r2", upsert("C1", "gold", "12.50", True))
    assert same.applied == 0
    changed = send(
        path, "r3", upsert("C1", "platinum", "99.00", True), Record("C2", None, (None,) * 4, DELETE)
    )
    assert changed.applied == 2
    assert rows(path) == [("C1", "platinum", "99.00", 1, "r3")]


def test_the_table_has_the_bookkeeping_columns_and_an_outbox_keeps_removed_rows(tmp_path: Path) -> None:
    path = tmp_path / "operational.sqlite"
    table = SqliteTable(path, SPEC, FAST, run_id="r1")
    assert (table.name, table.supports_delete, table.batch_size) == (
        "database.customer_tiers@sqlite:operational.sqlite",
        True,
        50_000,
    )
    table.send(Batch(COLUMNS, [upsert("C1", "gold", "1.00", True)]))
    table.close()
    columns = [row[1] for row in rows(path, "pragma table_info(customer_tiers)")]
    assert columns == [*COLUMNS, "_run_id", "_synced_at"]
    [(synced,)] = rows(path, "select _synced_at from customer_tiers")
    assert str(synced).endswith("Z") and str(synced)[:2] == "20"
    outbox = TableSpec("events", "change_key", (("change_key", "VARCHAR"),), OUTBOX_TABLE)
    assert SqliteTable(path, outbox, FAST, run_id="r1").supports_delete is False


def test_a_key_only_table_leaves_existing_rows_alone(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    keys = TableSpec("seen", "customer_id", (("customer_id", "VARCHAR"),))
    assert send(path, "r1", Record("C1", "h", ("C1",)), spec=keys).applied == 1
    assert send(path, "r2", Record("C1", "h", ("C1",)), Record("C2", "h", ("C2",)), spec=keys).applied == 1
    assert rows(path, "select customer_id, _run_id from seen order by 1") == [("C1", "r1"), ("C2", "r2")]


def test_a_column_added_to_a_table_with_rows_gets_its_default(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    before = TableSpec("events", "change_key", (("change_key", "VARCHAR"),), OUTBOX_TABLE)
    send(path, "r1", Record("E1", "h", ("E1",)), spec=before)
    after = TableSpec(
        "events",
        "change_key",
        (("change_key", "VARCHAR"), ("revision", "INTEGER")),
        OUTBOX_TABLE,
        added_defaults=(("revision", "1"),),
    )
    table = SqliteTable(path, after, FAST, run_id="r2")
    table.send(Batch(("change_key", "revision"), [Record("E2", "h", ("E2", 2))]))
    table.close()
    assert rows(path, "select change_key, revision from events order by 1") == [("E1", 1), ("E2", 2)]


def test_a_row_the_database_refuses_rejects_the_batch_and_writes_none_of_it(tmp_path: Path) -> None:
    path = tmp_path / "checked.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "create table customer_tiers (customer_id text primary key,"
            " tier_code text check (tier_code <> 'bogus'),"
            " measure_value text, is_eligible integer, _run_id text, _synced_at text)"
        )
    table = SqliteTable(path, SPEC, FAST, run_id="r1")
    with pytest.raises(BatchRejectedError, match="CHECK constraint failed"):
        table.send(Batch(COLUMNS, [upsert("C1", "gold", "1.00", True), upsert("C2", "bogus", "1.00", True)]))
    table.close()
    assert rows(path) == []
