"""The tables ingestion writes: their columns match the specs, and a drifted raw table is refused."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tierwise.exceptions import IngestError
from tierwise.ingest import tables
from tierwise.schema import ENTITIES, ORDERS

CONTRACTS = Path(__file__).resolve().parents[3] / "docs" / "contracts.md"


def described(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(str(name), str(kind)) for name, kind, *_ in con.execute(f"describe {table}").fetchall()]


def test_the_raw_contract_is_the_schema_then_the_documented_load_metadata() -> None:
    columns = tables.raw_columns(ORDERS)
    assert columns[:3] == [("order_id", "VARCHAR"), ("line_no", "INTEGER"), ("customer_id", "VARCHAR")]
    assert columns[len(ORDERS.fields) :] == list(tables.METADATA_COLUMNS)
    documented = re.findall(r"^\| `(_\w+)` \| (\w+) \|", CONTRACTS.read_text(encoding="utf-8"), flags=re.M)
    assert documented == list(tables.METADATA_COLUMNS)


def test_every_table_is_created_with_the_columns_of_its_spec() -> None:
    with duckdb.connect() as con:
        tables.ensure_tables(con, ORDERS)
        tables.ensure_tables(con, ORDERS)  # again: nothing changes, the contract still holds
        assert (tables.raw_table(ORDERS), tables.quarantine_table(ORDERS)) == (
            "raw.orders",
            "quarantine.orders",
        )
        assert described(con, "raw.orders") == tables.raw_columns(ORDERS)
        assert described(con, "quarantine.orders") == list(tables.QUARANTINE_COLUMNS)
        assert described(con, tables.MANIFEST) == list(tables.MANIFEST_COLUMNS)
        assert described(con, tables.EXTRA) == list(tables.EXTRA_COLUMNS)


def test_entities_no_source_loads_get_empty_raw_tables() -> None:
    with duckdb.connect() as con:
        tables.ensure_every_entity(con)
        found = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw' order by 1"
        ).fetchall()
        assert [name for (name,) in found] == sorted(ENTITIES)
        assert con.execute("select count(*) from raw.tickets").fetchone() == (0,)


def test_a_raw_table_that_drifted_from_the_contract_is_refused() -> None:
    with duckdb.connect() as con:
        con.execute("create schema raw; create table raw.orders (order_id varchar, amount double)")
        with pytest.raises(IngestError) as caught:
            tables.ensure_tables(con, ORDERS)
    message = str(caught.value)
    assert message.startswith(
        "raw.orders does not match the raw-table contract (docs/contracts.md): expected ["
    )
    assert message.endswith("found [('order_id', 'VARCHAR'), ('amount', 'DOUBLE')]")
