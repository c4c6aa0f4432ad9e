"""Moving a transformed batch into raw, quarantine and the drift table, replacing what it replaces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from tierwise.exceptions import IngestError
from tierwise.ingest import rules
from tierwise.ingest.mapping import RESULT
from tierwise.ingest.readers import FILES, REJECT_LINES, STAGE, BatchFile
from tierwise.ingest.sql import ident, literal
from tierwise.ingest.tables import EXTRA, quarantine_table, raw_table
from tierwise.schema import Entity

_REJECT_REASON = "case when invalid_encoding then 'invalid_encoding' else 'malformed_line' end"


@dataclass(frozen=True)
class Target:
    """Where a batch's rows go and what they are stamped with."""

    source: str
    entity: Entity
    interval_column: str
    interval: tuple[date, date] | None
    run_id: str
    loaded_at: datetime


@dataclass(frozen=True)
class Counts:
    read: int
    loaded: int
    quarantined: int
    by_reason: dict[str, int]


def delete_previous(con: duckdb.DuckDBPyConnection, target: Target, files: Sequence[BatchFile]) -> None:
    """Remove what earlier loads of these files (or of their slice) wrote.

    Whole files go in one statement per table: a batch that replaces hundreds of daily files
    (a changed config) would otherwise scan raw three times per file.
    """
    whole = [f.path for f in files if not (f.sliced and target.interval)]
    for file in files:
        if file.sliced and target.interval:
            _delete_slice(con, target, file, target.interval)
    if not whole:
        return
    listed = "(select unnest(?::varchar[]))"
    con.execute(f"delete from {raw_table(target.entity)} where _source_file in {listed}", [whole])
    con.execute(f"delete from {quarantine_table(target.entity)} where _source_file in {listed}", [whole])
    # Raw holds no row of these files any more: every drifted column of theirs goes.
    con.execute(f"delete from {EXTRA} where source = ? and _source_file in {listed}", [target.source, whole])


def _delete_slice(
    con: duckdb.DuckDBPyConnection, target: Target, file: BatchFile, interval: tuple[date, date]
) -> None:
    """The rows an earlier run of this interval wrote from a file without a date."""
    raw, quarantine = raw_table(target.entity), quarantine_table(target.entity)
    start, end = interval
    day = _slice_date(target)
    con.execute(
        f"delete from {raw} where _source_file = ? and {day} >= ? and {day} < ?", [file.path, start, end]
    )
    con.execute(
        f"delete from {quarantine} where _source_file = ? "
        "and (_slice_date is null or (_slice_date >= ? and _slice_date < ?))",
        [file.path, start, end],
    )
    con.execute(
        f"delete from {EXTRA} where source = ? and _source_file = ? "
        f"and _source_line not in (select _source_line from {raw} where _source_file = ?)",
        [target.source, file.path, file.path],
    )


def _slice_date(target: Target) -> str:
    column = ident(target.interval_column)
    fallback = rules.FALLBACKS.get(target.entity.name, {}).get(target.interval_column)
    value = f"coalesce({column}, {ident(fallback)})" if fallback else column
    return f"cast({value} as date)"


def insert_rows(
    con: duckdb.DuckDBPyConnection, target: Target, raw_line_sql: str, new_columns: tuple[str, ...]
) -> dict[int, Counts]:
    """Write raw and quarantine rows, then check that every row read went to one of them, per file."""
    loaded = _insert_raw(con, target)
    quarantined = _insert_quarantine(con, target, raw_line_sql) + _insert_rejects(con, target)
    if new_columns:
        _insert_extra(con, target, new_columns)
    counts = _counts(con)
    written = (sum(c.loaded for c in counts.values()), sum(c.quarantined for c in counts.values()))
    unbalanced = [index for index, c in counts.items() if c.read != c.loaded + c.quarantined]
    if written != (loaded, quarantined) or unbalanced:
        raise IngestError(
            f"rows read do not add up to rows loaded + quarantined (files {unbalanced or 'all'}: "
            f"{loaded:,} loaded, {quarantined:,} quarantined); nothing was written"
        )
    return counts


def _insert_raw(con: duckdb.DuckDBPyConnection, target: Target) -> int:
    fields = ", ".join(f"r.{ident(f.name)}" for f in target.entity.fields)
    return _scalar(
        con,
        f"insert into {raw_table(target.entity)} "
        f"select {fields}, f.path, r._source_line, f.checksum, f.file_date, ? "
        f"from {RESULT} as r join {FILES} as f using (_tw_file) where r._tw_reason is null",
        [target.loaded_at],
    )


def _insert_quarantine(con: duckdb.DuckDBPyConnection, target: Target, raw_line_sql: str) -> int:
    return _scalar(
        con,
        f"insert into {quarantine_table(target.entity)} "
        f"select ?, r._tw_reason, r._tw_detail, {raw_line_sql}, f.path, r._source_line, f.checksum, "
        f"f.file_date, r._slice_date, ?, ? "
        f"from {RESULT} as r join {STAGE} as s using (_tw_ord) join {FILES} as f on f._tw_file = r._tw_file "
        "where r._tw_reason is not null",
        [target.source, target.run_id, target.loaded_at],
    )


def _insert_rejects(con: duckdb.DuckDBPyConnection, target: Target) -> int:
    # A line the reader could not split has no interval date: it belongs to its file's date, or
    # (dateless file) to no slice, so that each slice run replaces it instead of adding a copy.
    hint = literal(" (is format.encoding right?)")
    return _scalar(
        con,
        f"insert into {quarantine_table(target.entity)} "
        f"select ?, {_REJECT_REASON}, "
        f"error_types || ': ' || message || case when invalid_encoding then {hint} else '' end, "
        f"raw_line, f.path, r._source_line, f.checksum, f.file_date, f.file_date, ?, ? "
        f"from {REJECT_LINES} as r join {FILES} as f using (_tw_file)",
        [target.source, target.run_id, target.loaded_at],
    )


def _insert_extra(con: duckdb.DuckDBPyConnection, target: Target, new_columns: tuple[str, ...]) -> None:
    pairs = ", ".join(f"{literal(name)}, s.{ident(name)}" for name in new_columns)
    con.execute(
        f"insert into {EXTRA} select ?, ?, f.path, r._source_line, f.checksum, json_object({pairs}), ? "
        f"from {RESULT} as r join {STAGE} as s using (_tw_ord) join {FILES} as f on f._tw_file = r._tw_file "
        "where r._tw_reason is null",
        [target.source, target.entity.name, target.loaded_at],
    )


def _counts(con: duckdb.DuckDBPyConnection) -> dict[int, Counts]:
    """Per file: rows read (counted on the stage, not on the result), loaded and quarantined."""
    rows = con.execute(
        f"""
        with staged as (select _tw_file, count(*) as n from {STAGE} group by 1),
        kept as (
            select _tw_file, count(*) as n, count(*) filter (where _tw_reason is null) as loaded
            from {RESULT} group by 1
        ),
        rejected as (select _tw_file, count(*) as n from {REJECT_LINES} group by 1)
        select f._tw_file,
            -- A dateless file in an interval run is read for its slice only.
            case when f.sliced then coalesce(kept.n, 0) else coalesce(staged.n, 0) end
                + coalesce(rejected.n, 0),
            coalesce(kept.loaded, 0),
            coalesce(kept.n, 0) - coalesce(kept.loaded, 0) + coalesce(rejected.n, 0)
        from {FILES} as f
        left join staged using (_tw_file) left join kept using (_tw_file) left join rejected using (_tw_file)
        """
    ).fetchall()
    reasons = _reasons(con)
    return {
        int(index): Counts(int(read), int(loaded), int(quarantined), reasons.get(int(index), {}))
        for index, read, loaded, quarantined in rows
    }


def _reasons(con: duckdb.DuckDBPyConnection) -> dict[int, dict[str, int]]:
    rows = con.execute(
        f"select _tw_file, reason, count(*) from ("
        f"select _tw_file, _tw_reason as reason from {RESULT} where _tw_reason is not null "
        f"union all select _tw_file, {_REJECT_REASON} from {REJECT_LINES}) "
        "group by all order by 1, 3 desc, 2"
    ).fetchall()
    result: dict[int, dict[str, int]] = {}
    for index, reason, count in rows:
        result.setdefault(int(index), {})[str(reason)] = int(count)
    return result


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
