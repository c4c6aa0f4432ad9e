"""A read-only copy of the marts for BI tools, swapped in atomically.

BI tools (Metabase, Superset, Evidence, notebooks) open
``publish/bi/marts.duckdb`` read-only. The pipeline writes a complete new
file next to it and renames it over the old one: a reader that still has the
old file open keeps reading the old inode and never holds a lock the
pipeline's writer has to wait for.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tierwise.settings import get_settings
from tierwise.warehouse import attach, connect

SNAPSHOT_SCHEMAS = ("marts",)


def snapshot_path() -> Path:
    return get_settings().publish_dir / "bi" / "marts.duckdb"


def publish_snapshot(warehouse: Path | None = None, target: Path | None = None) -> tuple[Path, int, float]:
    """Copy every table and view of the marts into a fresh file; return (path, tables, seconds)."""
    started = time.perf_counter()
    target = target or snapshot_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    source = warehouse or get_settings().warehouse
    # Attached under its own name: dbt's views name their tables with it (tierwise.intermediate.…).
    name = source.stem
    schemas = ", ".join(repr(s) for s in SNAPSHOT_SCHEMAS)
    with connect(staging) as con:
        con.execute("set preserve_insertion_order = false")
        attach(con, source, name)
        relations = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = ? "
            f"and schema_name in ({schemas}) "
            "union all select schema_name, view_name from duckdb_views() where database_name = ? "
            f"and schema_name in ({schemas}) and not internal order by 1, 2",
            [name, name],
        ).fetchall()
        for schema, table in relations:
            con.execute(f'create table main."{table}" as select * from "{name}"."{schema}"."{table}"')
        con.execute(f'detach "{name}"')
        con.execute("checkpoint")
    os.replace(staging, target)
    return target, len(relations), time.perf_counter() - started
