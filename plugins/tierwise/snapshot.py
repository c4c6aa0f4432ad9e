"""A read-only copy of the marts for BI tools, swapped in atomically.

BI tools (Metabase, Superset, Evidence, notebooks) open
``publish/bi/marts.duckdb`` read-only. The pipeline writes a complete new
file next to it and renames it over the old one: a reader that still has the
old file open keeps reading the old inode and never holds a lock the
pipeline's writer has to wait for.

Personal columns (e-mail, phone, name) are left out, as in the published files, unless
``TIERWISE_SNAPSHOT_PERSONAL_DATA`` says ``hash`` (SHA-256 of the value normalised as for the
CRM's hashed identifiers, so a BI tool can count and join on it) or ``include``.

The descriptions dbt writes as comments (``persist_docs``) are copied with the data: BI tools
show a table's and a column's comment as its description.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from tierwise.engine import Engine
from tierwise.engine.duckdb import connect_file, is_lock_conflict
from tierwise.ingest.sql import ident, literal
from tierwise.masking import PERSONAL_COLUMNS
from tierwise.publish.identifiers import normalise_email, normalise_phone, sha256_hex
from tierwise.settings import PersonalData, Settings

SNAPSHOT_SCHEMAS = ("marts",)
_DIGEST = "tierwise_identifier_sha256"


def snapshot_path(settings: Settings) -> Path:
    return settings.publish_dir / "bi" / "marts.duckdb"


def identifier_digest(column: str, value: str) -> str | None:
    """The CRM's hashed identifier of a personal value: the rules of publish/identifiers.py, once."""
    normalised = normalise_phone(value) if column.lower() == "phone" else normalise_email(value)
    return sha256_hex(normalised) if normalised else None


def _hashed(column: str) -> str:
    return f"{_DIGEST}({literal(column)}, {ident(column)}::varchar) as {ident(column)}"


def _select_list(con: duckdb.DuckDBPyConnection, relation: str, personal_data: PersonalData) -> str:
    """``*``, with the relation's personal columns excluded or hashed as the setting says."""
    columns = [row[0] for row in con.execute(f"select * from {relation} limit 0").description]
    personal = [column for column in columns if column.lower() in PERSONAL_COLUMNS]
    if not personal or personal_data is PersonalData.INCLUDE:
        return "*"
    if personal_data is PersonalData.HASH:
        return f"* replace ({', '.join(_hashed(column) for column in personal)})"
    return f"* exclude ({', '.join(ident(column) for column in personal)})"


def _copy_comments(con: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> None:
    """Give ``main.table`` the comments of ``database.schema.table`` (a table or a view) and its columns.

    ``create table as`` copies no comment. A column the copy left out (personal data) has none to take.
    """
    where = "database_name = ? and schema_name = ?"
    relation_comment = con.execute(
        f"select comment from duckdb_tables() where {where} and table_name = ? "
        f"union all select comment from duckdb_views() where {where} and view_name = ?",
        [database, schema, table, database, schema, table],
    ).fetchone()
    copied = {
        str(row[0])
        for row in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'main' and table_name = ?",
            [table],
        ).fetchall()
    }
    column_comments = con.execute(
        f"select column_name, comment from duckdb_columns() where {where} and table_name = ? "
        "and comment is not null",
        [database, schema, table],
    ).fetchall()
    target = f"main.{ident(table)}"
    if relation_comment and relation_comment[0]:
        con.execute(f"comment on table {target} is {literal(str(relation_comment[0]))}")
    for column, comment in column_comments:
        if column in copied:
            con.execute(f"comment on column {target}.{ident(column)} is {literal(str(comment))}")


def _remove_abandoned(target: Path) -> None:
    """Delete the staging files of snapshot writers that died mid-copy (``kill -9``, the OOM killer).

    Each would stay forever, as large as the part of the marts it got to. A writer still at work
    holds DuckDB's lock on its file, so only a file that DuckDB can open is abandoned.
    """
    for staging in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            duckdb.connect(str(staging), read_only=True).close()
        except duckdb.Error as error:
            if is_lock_conflict(error):
                continue
        staging.unlink(missing_ok=True)
        staging.with_name(f"{staging.name}.wal").unlink(missing_ok=True)


def publish_snapshot(
    settings: Settings, engine: Engine, target: Path | None = None
) -> tuple[Path, int, float]:
    """Copy every table and view of the marts into a fresh file; return (path, tables, seconds).

    Personal columns are handled as ``settings.snapshot_personal_data`` says.
    """
    started = time.perf_counter()
    target = target or snapshot_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    personal_data = settings.snapshot_personal_data
    # Attached under the warehouse's own name: dbt's views name their tables with it
    # (tierwise.intermediate.…).
    name = Path(engine.location).stem
    schemas = ", ".join(repr(s) for s in SNAPSHOT_SCHEMAS)
    with connect_file(staging, settings) as con:
        con.execute("set preserve_insertion_order = false")
        # Python, not SQL: DuckDB's trim() keeps tabs and NBSP that the CRM's normalising drops.
        con.create_function(_DIGEST, identifier_digest, ["VARCHAR", "VARCHAR"], "VARCHAR")
        engine.attach_to(con, name)
        relations = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = ? "
            f"and schema_name in ({schemas}) "
            "union all select schema_name, view_name from duckdb_views() where database_name = ? "
            f"and schema_name in ({schemas}) and not internal order by 1, 2",
            [name, name],
        ).fetchall()
        for schema, table in relations:
            relation = f'"{name}"."{schema}"."{table}"'
            columns = _select_list(con, relation, personal_data)
            con.execute(f'create table main."{table}" as select {columns} from {relation}')
            _copy_comments(con, name, schema, table)
        con.execute(f'detach "{name}"')
        con.execute("checkpoint")
    os.replace(staging, target)
    return target, len(relations), time.perf_counter() - started
