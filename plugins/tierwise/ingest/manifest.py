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
from tierwise.ingest.tables import EXTRA, MANIFEST


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

    Same source, checksum and config, current in the manifest, and no longer at its old path
    (``gone``). Several candidates (identical files, e.g. header-only days) prefer the same file
    name. A copy that still exists at its old path is a separate file, loaded on its own.
    """
    rows = con.execute(
        f"select distinct file_path from {MANIFEST} where source = ? and is_current "
        "and file_checksum = ? and config_hash = ? and file_path <> ? order by 1",
        [key.source, key.checksum, key.config_hash, key.file_path],
    ).fetchall()
    candidates = [str(row[0]) for row in rows if gone(str(row[0]))]
    name = os.path.basename(key.file_path)
    same_name = [path for path in candidates if os.path.basename(path) == name]
    return (same_name or candidates or [None])[0]


def relocate(con: duckdb.DuckDBPyConnection, entity: str, old: str, new: str) -> None:
    """Point everything loaded from ``old`` at ``new``, without reloading (in the caller's transaction)."""
    for table in (f"raw.{entity}", f"quarantine.{entity}", EXTRA):
        con.execute(f"update {table} set _source_file = ? where _source_file = ?", [new, old])
    con.execute(f"update {MANIFEST} set file_path = ? where file_path = ?", [new, old])


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
