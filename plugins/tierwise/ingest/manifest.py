"""``ops.load_manifest``: one row per file (or per slice of a dateless file) and load.

A row stays ``is_current`` until the same file is loaded again with other
content or another config; the old row is kept as history.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from tierwise.ingest.report import FileResult
from tierwise.ingest.tables import EXTRA, MANIFEST, quarantine_table, raw_table
from tierwise.schema import Entity


@dataclass(frozen=True)
class LoadKey:
    source: str
    file_path: str
    checksum: str
    config_hash: str
    slice: tuple[date, date] | None
    """None: the whole file; else the interval slice of a file without a date in its name."""


def already_loaded(con: duckdb.DuckDBPyConnection, key: LoadKey) -> bool:
    """The same content was loaded with the same config, for the whole file or this slice."""
    start, end = key.slice or (None, None)
    row = con.execute(
        f"select count(*) from {MANIFEST} where source = ? and file_path = ? and is_current "
        "and file_checksum = ? and config_hash = ? "
        "and (slice_start is null or (slice_start = ? and slice_end = ?))",
        [key.source, key.file_path, key.checksum, key.config_hash, start, end],
    ).fetchone()
    return bool(row and row[0])


def moved_from(con: duckdb.DuckDBPyConnection, key: LoadKey, gone: Callable[[str], bool]) -> str | None:
    """The path this content was loaded from before, when that file is gone: the file was moved.

    Same source, checksum, config and file name, current in the manifest, and no longer at its
    old path (``gone``): a moved folder keeps its file names. A copy that still exists at its old
    path, or a new day with the content of another (identical header-only days), is a file of
    its own and is loaded.
    """
    rows = con.execute(
        f"select distinct file_path from {MANIFEST} where source = ? and is_current "
        "and file_checksum = ? and config_hash = ? and file_path <> ? order by 1",
        [key.source, key.checksum, key.config_hash, key.file_path],
    ).fetchall()
    name = os.path.basename(key.file_path)
    moved = [str(row[0]) for row in rows if os.path.basename(str(row[0])) == name and gone(str(row[0]))]
    return moved[0] if moved else None


def relocate(con: duckdb.DuckDBPyConnection, source: str, entity: Entity, old: str, new: str) -> None:
    """Point everything ``source`` loaded from ``old`` at ``new``, without reloading.

    In the caller's transaction. Only this source's rows move: another source may read the
    same path (a lookup of a multi-file source).
    """
    for table in (raw_table(entity), quarantine_table(entity)):
        con.execute(f"update {table} set _source_file = ? where _source_file = ?", [new, old])
    con.execute(
        f"update {EXTRA} set _source_file = ? where source = ? and _source_file = ?", [new, source, old]
    )
    con.execute(f"update {MANIFEST} set file_path = ? where source = ? and file_path = ?", [new, source, old])


def supersede(con: duckdb.DuckDBPyConnection, source: str, file_path: str) -> None:
    """A file of ``source`` that is no longer listed: none of its loads stays current."""
    con.execute(
        f"update {MANIFEST} set is_current = false where source = ? and file_path = ? and is_current",
        [source, file_path],
    )


def seen_before(con: duckdb.DuckDBPyConnection, file_path: str) -> bool:
    """Any earlier load of this path: only then can raw hold rows to replace."""
    row = con.execute(f"select count(*) from {MANIFEST} where file_path = ?", [file_path]).fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class ManifestEntry:
    key: LoadKey
    entity: str
    size: int
    result: FileResult
    interval: tuple[date, date] | None
    loaded_at: datetime
    run_id: str


def record(con: duckdb.DuckDBPyConnection, entry: ManifestEntry) -> None:
    """Supersede the earlier rows of this file (or slice) and add this load."""
    key, result = entry.key, entry.result
    start, end = key.slice or (None, None)
    scope = "(? is null or (slice_start = ? and slice_end = ?))"
    con.execute(
        f"update {MANIFEST} set is_current = false where source = ? and file_path = ? and is_current "
        f"and {scope}",
        [key.source, key.file_path, start, start, end],
    )
    interval_start, interval_end = entry.interval or (None, None)
    con.execute(
        f"insert into {MANIFEST} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, true, ?, ?)",
        [
            key.source,
            entry.entity,
            key.file_path,
            key.checksum,
            entry.size,
            result.file_date,
            key.config_hash,
            interval_start,
            interval_end,
            start,
            end,
            result.rows_read,
            result.rows_loaded,
            result.rows_quarantined,
            json.dumps(result.quarantined_by_reason, sort_keys=True),
            list(result.new_columns),
            result.status,
            entry.loaded_at,
            entry.run_id,
        ],
    )
