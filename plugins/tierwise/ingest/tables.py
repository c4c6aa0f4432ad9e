"""The tables ingestion writes: raw (docs/contracts.md), quarantine, the load manifest, drifted columns."""

from __future__ import annotations

import duckdb

from tierwise.exceptions import IngestError
from tierwise.ingest.sql import ident
from tierwise.schema import ENTITIES, Entity

METADATA_COLUMNS = (
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_file_checksum", "VARCHAR"),
    ("_file_date", "DATE"),
    ("_loaded_at", "TIMESTAMP"),
)

QUARANTINE_COLUMNS = (
    ("source", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("detail", "VARCHAR"),
    ("raw_line", "VARCHAR"),
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_file_checksum", "VARCHAR"),
    ("_file_date", "DATE"),
    ("_slice_date", "DATE"),
    ("run_id", "VARCHAR"),
    ("_loaded_at", "TIMESTAMP"),
)

MANIFEST = "ops.load_manifest"
MANIFEST_COLUMNS = (
    ("source", "VARCHAR"),
    ("entity", "VARCHAR"),
    ("file_path", "VARCHAR"),
    ("file_checksum", "VARCHAR"),
    ("file_size", "BIGINT"),
    ("file_date", "DATE"),
    ("config_hash", "VARCHAR"),
    ("interval_start", "DATE"),
    ("interval_end", "DATE"),
    ("slice_start", "DATE"),
    ("slice_end", "DATE"),
    ("rows_read", "BIGINT"),
    ("rows_loaded", "BIGINT"),
    ("rows_quarantined", "BIGINT"),
    ("quarantined_by_reason", "JSON"),
    ("new_columns", "VARCHAR[]"),
    ("status", "VARCHAR"),
    ("is_current", "BOOLEAN"),
    ("loaded_at", "TIMESTAMP"),
    ("run_id", "VARCHAR"),
)

EXTRA = "ops.extra_columns"
EXTRA_COLUMNS = (
    ("source", "VARCHAR"),
    ("entity", "VARCHAR"),
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_file_checksum", "VARCHAR"),
    ("extra", "JSON"),
    ("_loaded_at", "TIMESTAMP"),
)


def raw_table(entity: Entity) -> str:
    return f"raw.{entity.name}"


def quarantine_table(entity: Entity) -> str:
    return f"quarantine.{entity.name}"


def raw_columns(entity: Entity) -> list[tuple[str, str]]:
    """The raw-table contract: canonical fields in schema order, then the load metadata."""
    return [(f.name, f.type) for f in entity.fields] + list(METADATA_COLUMNS)


def ensure_tables(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    for schema in ("raw", "quarantine", "ops"):
        con.execute(f"create schema if not exists {schema}")
    _create(con, raw_table(entity), raw_columns(entity))
    _check_contract(con, entity)
    _create(con, quarantine_table(entity), list(QUARANTINE_COLUMNS))
    _create(con, MANIFEST, list(MANIFEST_COLUMNS))
    _create(con, EXTRA, list(EXTRA_COLUMNS))


def ensure_every_entity(con: duckdb.DuckDBPyConnection) -> None:
    """Empty raw tables for the entities no source loads (a shop without a CRM export).

    dbt reads every raw source; an entity never ingested then reads as no rows, not as an error.
    """
    for entity in ENTITIES.values():
        ensure_tables(con, entity)


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> None:
    body = ", ".join(f"{ident(name)} {kind}" for name, kind in columns)
    con.execute(f"create table if not exists {table} ({body})")


def _check_contract(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    """Refuse to append to a raw table whose columns drifted from the contract."""
    found = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = ? order by ordinal_position",
        [entity.name],
    ).fetchall()
    expected = [(name, kind.replace(" ", "")) for name, kind in raw_columns(entity)]
    actual = [(str(name), str(kind).replace(" ", "")) for name, kind in found]
    if actual != expected:
        raise IngestError(
            f"{raw_table(entity)} does not match the raw-table contract (docs/contracts.md): "
            f"expected {expected}, found {actual}"
        )
