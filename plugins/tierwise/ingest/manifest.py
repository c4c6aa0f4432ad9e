"""``ops.load_manifest``: one row per file (or per slice of a dateless file) and load.

A row stays ``is_current`` until the same file is loaded again with other
content or another config; the old row is kept as history.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class KnownFile:
    """What the manifest knows of one file about to be loaded (see :func:`lookup`)."""

    loaded: bool
    """The same content was loaded with the same config, for the whole file or this slice."""
    seen: bool
    """Any earlier load of this path, by any source: only then can raw hold rows to replace."""
    same_content: tuple[str, ...]
    """Other current paths of this source with this content and config whose name could match."""

    def moved_from(self, file_path: str, gone: Callable[[str], bool]) -> str | None:
        """The path this content was loaded from before, when that file is gone: the file was moved.

        Same source, checksum, config and file name, current in the manifest, and no longer at its
        old path (``gone``): a moved folder keeps its file names. A copy that still exists at its
        old path, or a new day with the content of another (identical header-only days), is a file
        of its own and is loaded.
        """
        name = os.path.basename(file_path)
        moved = [path for path in self.same_content if os.path.basename(path) == name and gone(path)]
        return moved[0] if moved else None


def lookup(con: duckdb.DuckDBPyConnection, keys: Sequence[LoadKey]) -> dict[str, KnownFile]:
    """The manifest's state of many files in one query, by file path.

    One query per run instead of three per file: with a daily file per source, the per-file
    queries cost more than reading the files.
    """
    if not keys:
        return {}
    rows = con.execute(
        f"""
        with keys as (
            select unnest(?::varchar[]) as source, unnest(?::varchar[]) as file_path,
                unnest(?::varchar[]) as checksum, unnest(?::varchar[]) as config_hash,
                unnest(?::date[]) as slice_start, unnest(?::date[]) as slice_end,
                unnest(?::varchar[]) as name
        ),
        loaded as (
            select distinct k.file_path from keys as k join {MANIFEST} as m
                on m.source = k.source and m.file_path = k.file_path and m.is_current
                and m.file_checksum = k.checksum and m.config_hash = k.config_hash
                and (m.slice_start is null or (m.slice_start = k.slice_start and m.slice_end = k.slice_end))
        ),
        seen as (
            select distinct file_path from {MANIFEST} where file_path in (select file_path from keys)
        ),
        same as (
            -- Only paths ending in the file's name can be where it moved from (checked exactly
            -- by KnownFile.moved_from); this keeps identical header-only days from multiplying.
            select k.file_path, list(distinct m.file_path order by m.file_path) as paths
            from keys as k join {MANIFEST} as m
                on m.source = k.source and m.is_current and m.file_checksum = k.checksum
                and m.config_hash = k.config_hash and m.file_path <> k.file_path
                and ends_with(m.file_path, k.name)
            group by 1
        )
        select k.file_path, loaded.file_path is not null, seen.file_path is not null, same.paths
        from keys as k left join loaded using (file_path) left join seen using (file_path)
            left join same using (file_path)
        """,
        [
            [k.source for k in keys],
            [k.file_path for k in keys],
            [k.checksum for k in keys],
            [k.config_hash for k in keys],
            [k.slice[0] if k.slice else None for k in keys],
            [k.slice[1] if k.slice else None for k in keys],
            [os.path.basename(k.file_path) for k in keys],
        ],
    ).fetchall()
    return {
        str(path): KnownFile(bool(loaded), bool(seen), tuple(str(p) for p in same or ()))
        for path, loaded, seen, same in rows
    }


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


@dataclass(frozen=True)
class ManifestEntry:
    key: LoadKey
    entity: str
    size: int
    result: FileResult
    interval: tuple[date, date] | None
    loaded_at: datetime
    run_id: str


def record_all(con: duckdb.DuckDBPyConnection, entries: Sequence[ManifestEntry]) -> None:
    """Supersede the earlier rows of each file (or slice) and add these loads: two statements.

    The entries are distinct files (or slices) of one batch; a whole-file load supersedes every
    current row of its file, a slice load only the rows of that slice.
    """
    if not entries:
        return
    paths = [entry.key.file_path for entry in entries]
    if len(set(paths)) < len(paths):
        # The same file twice (two inputs reading one path): the later load supersedes the earlier.
        for entry in entries:
            record_all(con, [entry])
        return
    keys = [entry.key for entry in entries]
    con.execute(
        f"""
        update {MANIFEST} as m set is_current = false
        from (
            select unnest(?::varchar[]) as source, unnest(?::varchar[]) as file_path,
                unnest(?::date[]) as slice_start, unnest(?::date[]) as slice_end
        ) as k
        where m.source = k.source and m.file_path = k.file_path and m.is_current
            and (k.slice_start is null or (m.slice_start = k.slice_start and m.slice_end = k.slice_end))
        """,
        [
            [k.source for k in keys],
            [k.file_path for k in keys],
            [k.slice[0] if k.slice else None for k in keys],
            [k.slice[1] if k.slice else None for k in keys],
        ],
    )
    columns: list[tuple[str, list[object]]] = [
        ("varchar", [e.key.source for e in entries]),
        ("varchar", [e.entity for e in entries]),
        ("varchar", [e.key.file_path for e in entries]),
        ("varchar", [e.key.checksum for e in entries]),
        ("bigint", [e.size for e in entries]),
        ("date", [e.result.file_date for e in entries]),
        ("varchar", [e.key.config_hash for e in entries]),
        ("date", [e.interval[0] if e.interval else None for e in entries]),
        ("date", [e.interval[1] if e.interval else None for e in entries]),
        ("date", [e.key.slice[0] if e.key.slice else None for e in entries]),
        ("date", [e.key.slice[1] if e.key.slice else None for e in entries]),
        ("bigint", [e.result.rows_read for e in entries]),
        ("bigint", [e.result.rows_loaded for e in entries]),
        ("bigint", [e.result.rows_quarantined for e in entries]),
        ("varchar", [json.dumps(e.result.quarantined_by_reason, sort_keys=True) for e in entries]),
        ("varchar[]", [list(e.result.new_columns) for e in entries]),
        ("varchar", [e.result.status for e in entries]),
        ("timestamp", [e.loaded_at for e in entries]),
        ("varchar", [e.run_id for e in entries]),
    ]
    selected = [f"unnest(?::{kind}[])" for kind, _ in columns]
    # is_current comes after the status, as in MANIFEST_COLUMNS.
    selected.insert(17, "true")
    con.execute(f"insert into {MANIFEST} select {', '.join(selected)}", [values for _, values in columns])
