"""Multi-file sources: each file set lands as it is, then the canonical rows are derived by joins.

A real export often spreads one record over several files: order headers, lines and
payments; a customer per order that points at the person; reviews that belong to orders.
A source config with ``inputs`` (docs/ingestion.md, "Multi-file exports") names those file
sets. Ingest then works in two steps, in one transaction:

1. **Land.** Every new or changed file of every input is read with the same readers as a
   single-file source (quotes, encodings, line accounting) into
   ``landing."<source>__<input>"``: all columns as text plus the load metadata. Lines that
   cannot be read, and exact duplicates (``duplicates: quarantine``), land too, marked with
   their problem, so that a re-derivation can account for them again.
2. **Derive.** One canonical row per row of the *grain* input: each other input is joined by
   key, either as a lookup (one row per key: its columns become a struct, ``customers.city``)
   or aggregated per key (``items.amount``). The mapping, value rules and hard rules of a
   single-file source then apply unchanged. Each derivation replaces everything the source
   derived before, so a changed payments file changes the order amounts and nothing stale
   stays.

Every landed row is accounted for: a grain row is loaded or quarantined; a row of a joined
input is *used* when it joins a loaded grain row, and is otherwise quarantined as
``unmatched`` (no grain row has its key), ``parent_quarantined`` (its grain rows were all
quarantined), ``duplicate_key`` (a lookup input's second row for a key) or for its own
problem. A ``lookup: true`` input is only read for its values: its files belong to another
source, which accounts for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from tierwise.engine import transaction
from tierwise.exceptions import IngestError
from tierwise.ingest import manifest, storage
from tierwise.ingest.config import InputConfig, SourceConfig
from tierwise.ingest.files import (
    FileStat,
    SourceFile,
    inspect_content,
    list_files,
    resolve_pattern,
    stat_file,
)
from tierwise.ingest.manifest import ManifestEntry
from tierwise.ingest.mapping import (
    RESULT,
    create_result,
    create_typed_view,
    future_cutoff,
    mark_duplicates,
    parse_scalar,
    plan_fields,
    trimmed,
)
from tierwise.ingest.readers import (
    FILES,
    LINED,
    REJECT_LINES,
    STAGE,
    BatchFile,
    columns_of,
    create_files_table,
    create_lined_view,
    csv_line_sql,
    empty_rejects,
    stage_batch,
)
from tierwise.ingest.report import LOADED, LOOKUP, UNCHANGED, FileResult
from tierwise.ingest.runs import LoadRun
from tierwise.ingest.sql import ident, literal
from tierwise.ingest.tables import EXTRA, MANIFEST, quarantine_table, raw_table
from tierwise.ingest.writes import insert_rows

LANDING = "landing"
_META = (
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_file_checksum", "VARCHAR"),
    ("_file_date", "DATE"),
    ("_loaded_at", "TIMESTAMP"),
    ("_problem", "VARCHAR"),
    ("_detail", "VARCHAR"),
    ("_raw_line", "VARCHAR"),
)


@dataclass(frozen=True)
class _Listed:
    item: InputConfig
    file: SourceFile
    stat: FileStat
    changed: bool


def landing_table(source: str, item: str) -> str:
    return f"{LANDING}.{ident(f'{source}__{item}')}"


def load_multi_file(
    con: duckdb.DuckDBPyConnection, run: LoadRun, root: Path
) -> tuple[list[FileResult], list[str]]:
    """Land what changed and derive the source's canonical rows again; unchanged: nothing to do.

    The derivation follows the files listed now: a file no longer listed (deleted, or moved
    with the data folder) leaves the landing tables too, so its rows cannot be derived twice.
    """
    warnings: list[str] = []
    listed = _list_all(con, run, root)
    gone = _no_longer_listed(con, run, listed)
    if not gone and not any(entry.changed for entry in listed):
        return [
            FileResult(e.file.path, UNCHANGED, e.file.file_date, e.stat.checksum) for e in listed
        ], warnings
    # Landing and derivation in one transaction, interval run or not: a source is derived
    # as a whole, so a failure leaves the previous derivation in place.
    with transaction(con):
        _forget_gone(con, run, gone, warnings)
        _land(con, run, [entry for entry in listed if entry.changed], warnings)
        results = _derive(con, run, warnings, listed)
    return results, warnings


def _list_all(con: duckdb.DuckDBPyConnection, run: LoadRun, root: Path) -> list[_Listed]:
    listed: list[tuple[InputConfig, SourceFile, FileStat]] = []
    for item in run.config.inputs:
        narrowed = run.config.for_input(item)
        storage.prepare(con, narrowed, resolve_pattern(narrowed, root))
        for source_file in list_files(con, narrowed, root):
            stat = stat_file(con, source_file)
            if stat is None:
                raise IngestError(f"{source_file.path}: disappeared before it could be read; nothing loaded")
            listed.append((item, source_file, stat))
    known = manifest.lookup(con, [run.key(f.path, stat.checksum) for _, f, stat in listed])
    return [_Listed(item, f, stat, not known[f.path].loaded) for item, f, stat in listed]


def _no_longer_listed(con: duckdb.DuckDBPyConnection, run: LoadRun, listed: list[_Listed]) -> list[str]:
    current = {entry.file.path for entry in listed}
    rows = con.execute(
        f"select distinct file_path from {MANIFEST} where source = ? and is_current order by 1",
        [run.config.name],
    ).fetchall()
    return [str(path) for (path,) in rows if str(path) not in current]


def _forget_gone(con: duckdb.DuckDBPyConnection, run: LoadRun, gone: list[str], warnings: list[str]) -> None:
    for path in gone:
        for item in run.config.inputs:
            table = landing_table(run.config.name, item.name)
            _ensure_landing(con, table, ())
            con.execute(f"delete from {table} where _source_file = ?", [path])
        manifest.supersede(con, run.config.name, path)
        warnings.append(f"{path}: no longer listed; its rows are no longer derived")


# --- land -------------------------------------------------------------------------------------------


def _land(con: duckdb.DuckDBPyConnection, run: LoadRun, entries: list[_Listed], warnings: list[str]) -> None:
    for entry in entries:
        table = landing_table(run.config.name, entry.item.name)
        _ensure_landing(con, table, ())
        con.execute(f"delete from {table} where _source_file = ?", [entry.file.path])
        narrowed = run.config.for_input(entry.item)
        lines = inspect_content(entry.file, entry.item.format)  # a damaged gzip fails the source
        columns = columns_of(con, narrowed, entry.file.path) if entry.stat.size else None
        if columns is None:
            _empty_file(narrowed, entry, warnings)
            continue
        batch = [BatchFile(0, entry.file.path, entry.stat.checksum, entry.file.file_date, None, False, lines)]
        staged = stage_batch(con, narrowed, batch, columns)
        if run.config.duplicates == "quarantine":
            mark_duplicates(con, staged.columns)
        _ensure_landing(con, table, staged.columns)
        _insert_landed(con, run, table, staged.columns, staged.raw_line_sql)


def _empty_file(config: SourceConfig, entry: _Listed, warnings: list[str]) -> None:
    if config.files.empty_files == "error":
        raise IngestError(
            f"{entry.file.path}: the file is empty (no header, no rows), which usually means a broken "
            f"export; set files.empty_files: skip for input {entry.item.name} in {config.origin}"
        )
    warnings.append(f"{entry.file.path}: empty file, nothing landed")


def _ensure_landing(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]) -> None:
    con.execute(f"create schema if not exists {LANDING}")
    meta = ", ".join(f"{name} {kind}" for name, kind in _META)
    con.execute(f"create table if not exists {table} ({meta})")
    for column in columns:
        con.execute(f"alter table {table} add column if not exists {ident(column)} varchar")


def _insert_landed(
    con: duckdb.DuckDBPyConnection, run: LoadRun, table: str, columns: tuple[str, ...], raw_line_sql: str
) -> None:
    values = "".join(f", s.{ident(c)} as {ident(c)}" for c in columns)
    problem = (
        "case when s._tw_first is not null then 'duplicate' when s._tw_malformed then 'malformed_line' end"
    )
    detail = (
        "case when s._tw_first is not null then 'exact copy of line ' || s._tw_first "
        "when s._tw_malformed then 'not a JSON object' end"
    )
    con.execute(
        f"insert into {table} by name select f.path as _source_file, s._source_line, "
        f"f.checksum as _file_checksum, f.file_date as _file_date, ? as _loaded_at, {problem} as _problem, "
        f"{detail} as _detail, case when {problem} is not null then {raw_line_sql} end as _raw_line{values} "
        f"from {LINED} as s join {FILES} as f using (_tw_file)",
        [run.loaded_at],
    )
    reason = "case when r.invalid_encoding then 'invalid_encoding' else 'malformed_line' end"
    con.execute(
        f"insert into {table} by name select f.path as _source_file, r._source_line, "
        f"f.checksum as _file_checksum, f.file_date as _file_date, ? as _loaded_at, {reason} as _problem, "
        "r.error_types || ': ' || r.message as _detail, r.raw_line as _raw_line "
        f"from {REJECT_LINES} as r join {FILES} as f using (_tw_file)",
        [run.loaded_at],
    )


# --- derive -----------------------------------------------------------------------------------------


def _derive(
    con: duckdb.DuckDBPyConnection, run: LoadRun, warnings: list[str], listed: list[_Listed]
) -> list[FileResult]:
    config = run.config
    grain, joined = config.inputs[0], config.inputs[1:]
    _forget_derived(con, run)
    for item in config.inputs:
        _input_view(con, config, item)
    grain_files = _grain_files(con, run, grain)
    create_files_table(con, grain_files, 0)
    columns = _stage_joined(con, config, grain, joined)
    empty_rejects(con)
    create_lined_view(con)
    label = f"{config.name} (derived from {', '.join(i.name for i in config.inputs)})"
    create_typed_view(con, config, columns)
    plans, plan_warnings = plan_fields(con, config, columns, label)
    warnings.extend(plan_warnings)
    create_result(con, config, plans, columns, run.interval, label)
    insert_rows(con, run.target, _grain_line_sql(con, config, grain), ())
    _quarantine_landed_problems(con, run, grain)
    for item in joined:
        if not item.lookup:
            _account_joined(con, run, grain, item)
    return _results(con, run, listed)


def _forget_derived(con: duckdb.DuckDBPyConnection, run: LoadRun) -> None:
    """Everything the source derived before goes: the derivation writes it all again."""
    raw, quarantine = raw_table(run.config.schema), quarantine_table(run.config.schema)
    # Every file the source ever recorded: a grain file no longer listed goes with the others.
    con.execute(
        f"delete from {raw} where _source_file in (select file_path from {MANIFEST} where source = ?)",
        [run.config.name],
    )
    con.execute(f"delete from {quarantine} where source = ?", [run.config.name])
    con.execute(f"delete from {EXTRA} where source = ?", [run.config.name])


def _view(item: InputConfig) -> str:
    return ident(f"_tw_in_{item.name}")


def _input_view(con: duckdb.DuckDBPyConnection, config: SourceConfig, item: InputConfig) -> None:
    """``_tw_in_<input>``: an input's landed rows, typed for joins, with a reason for bad values.

    The grain's typed columns are typed later, like a single file's (parse.column_types).
    """
    table = landing_table(config.name, item.name)
    typed = {} if item is config.inputs[0] else {k.lower(): v for k, v in item.column_types.items()}
    selected, checks = [], []
    for column in _data_columns(con, config.name, item.name):
        kind = typed.get(column.lower())
        if kind is None:
            selected.append(ident(column))
            continue
        text = trimmed(ident(column))
        parsed = parse_scalar(text, kind, config.parse)
        selected.append(f"{parsed} as {ident(column)}")
        checks.append(f"when {text} is not null and {parsed} is null then {literal(_reason(column))}")
    bad = f"case {' '.join(checks)} end" if checks else "null::varchar"
    con.execute(
        f"create or replace temp view {_view(item)} as select *, {_lookup_rank(item)} as _tw_rank from ("
        f"select {', '.join([*selected, 'rowid as _tw_row'])}, "
        f"_source_file, _source_line, _file_checksum, _file_date, {bad} as _tw_bad "
        f"from {table} where _problem is null)"
    )


def _lookup_rank(item: InputConfig) -> str:
    """A lookup row's place among the usable rows of its key, in file order (1: the one that joins)."""
    if item.join is None or item.join.aggregate:
        return "null::bigint"
    keys = ", ".join(ident(column) for column, _ in item.join.on)
    return (
        "case when _tw_bad is null then row_number() over ("
        f"partition by {keys}, _tw_bad is null order by _source_file, _source_line) end"
    )


def _reason(column: str) -> str:
    return "invalid_" + "".join(ch if ch.isalnum() else "_" for ch in column.lower()).strip("_")


def _data_columns(con: duckdb.DuckDBPyConnection, source: str, item: str) -> list[str]:
    meta = {name for name, _ in _META}
    rows = con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
        "order by column_index",
        [LANDING, f"{source}__{item}"],
    ).fetchall()
    return [str(row[0]) for row in rows if str(row[0]) not in meta]


def _grain_files(con: duckdb.DuckDBPyConnection, run: LoadRun, grain: InputConfig) -> list[BatchFile]:
    table = landing_table(run.config.name, grain.name)
    rows = con.execute(
        f"select distinct _source_file, _file_checksum, _file_date from {table} order by 1"
    ).fetchall()
    return [
        # Derived as a whole: only the file's own date bounds it, never the run's interval.
        BatchFile(index, str(path), str(checksum), file_date, future_cutoff(file_date, None), False)
        for index, (path, checksum, file_date) in enumerate(rows)
    ]


def _stage_joined(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, grain: InputConfig, joined: tuple[InputConfig, ...]
) -> tuple[str, ...]:
    """``_tw_stage``: one row per usable grain row, the joined inputs as struct columns."""
    grain_columns = tuple(_data_columns(con, config.name, grain.name))
    clash = [item.name for item in joined if item.name in {c.lower() for c in grain_columns}]
    if clash:
        raise IngestError(
            f"{config.origin}: input {clash[0]!r} has the name of a column of the grain input "
            f"{grain.name}; rename the input"
        )
    g = ident(grain.name)
    selected = [f"{g}.{ident(c)}" for c in grain_columns]
    joins = []
    for item in joined:
        struct, extra, join = _join_sql(con, config, item)
        selected += [f"{struct} as {ident(item.name)}", *extra]
        joins.append(join)
    con.execute(
        f"create or replace temp table {STAGE} as select {', '.join(selected)}, "
        f"{g}._tw_row as _tw_ord, f._tw_file, false as _tw_malformed, null::bigint as _tw_first, "
        f"0::ubigint as _tw_hash, {g}._source_line as _tw_line, {g}._tw_row as _tw_grain_row "
        f"from {_view(grain)} as {g} join {FILES} as f on f.path = {g}._source_file " + " ".join(joins)
    )
    con.execute(
        f"update {FILES} set first_ord = starts.first_ord from "
        f"(select _tw_file, min(_tw_ord) as first_ord from {STAGE} group by 1) as starts "
        f"where {FILES}._tw_file = starts._tw_file"
    )
    return (*grain_columns, *(item.name for item in joined))


def _join_sql(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, item: InputConfig
) -> tuple[str, list[str], str]:
    """(struct expression, extra stage columns, LEFT JOIN clause) for one joined input."""
    assert item.join is not None
    alias, view = ident(item.name), _view(item)
    keys = [ident(column) for column, _ in item.join.on]
    on = " and ".join(
        f"{alias}.{key} = ({other})" for key, (_, other) in zip(keys, item.join.on, strict=True)
    )
    key_values = [
        f"({other}) as {ident(f'_tw_key__{item.name}__{i}')}" for i, (_, other) in enumerate(item.join.on)
    ]
    if item.join.aggregate:
        aggregates = ", ".join(f"{expr} as {ident(name)}" for name, expr in item.join.aggregate.items())
        struct = (
            "struct_pack(" + ", ".join(f"{ident(n)} := {alias}.{ident(n)}" for n in item.join.aggregate) + ")"
        )
        relation = f"(select {', '.join(keys)}, {aggregates} from {view} where _tw_bad is null group by all)"
        return struct, key_values, f"left join {relation} as {alias} on {on}"
    columns = _data_columns(con, config.name, item.name)
    struct = "struct_pack(" + ", ".join(f"{ident(c)} := {alias}.{ident(c)}" for c in columns) + ")"
    relation = f"(select * from {view} where _tw_rank = 1)"
    return (
        struct,
        [f"{alias}._tw_row as {ident(f'_tw_row__{item.name}')}"],
        f"left join {relation} as {alias} on {on}",
    )


def _grain_line_sql(con: duckdb.DuckDBPyConnection, config: SourceConfig, grain: InputConfig) -> str:
    names = tuple(_data_columns(con, config.name, grain.name))
    return csv_line_sql(names, grain.format)


# --- accounting -------------------------------------------------------------------------------------


def _quarantine_landed_problems(con: duckdb.DuckDBPyConnection, run: LoadRun, item: InputConfig) -> None:
    """Lines of an input that could not be read, or duplicated a line: quarantined as they landed."""
    con.execute(
        f"insert into {quarantine_table(run.config.schema)} "
        "select ?, _problem, _detail, _raw_line, _source_file, _source_line, _file_checksum, _file_date, "
        f"null, ?, ? from {landing_table(run.config.name, item.name)} where _problem is not null",
        [run.config.name, run.run_id, run.loaded_at],
    )


def _account_joined(
    con: duckdb.DuckDBPyConnection, run: LoadRun, grain: InputConfig, item: InputConfig
) -> None:
    """Quarantine each row of a joined input that no loaded grain row uses, with the reason."""
    _quarantine_landed_problems(con, run, item)
    reason, detail = _unused_reason(grain, item)
    names = tuple(_data_columns(con, run.config.name, item.name))
    rows = (
        f"select {reason} as reason, {detail} as detail, x._source_file, x._source_line, x._file_checksum, "
        f"x._file_date, {csv_line_sql(names, item.format)} as raw_line from {_view(item)} as x "
        f"join {landing_table(run.config.name, item.name)} as s on s.rowid = x._tw_row "
        f"left join ({_references(item)}) as refs on refs._tw_row = x._tw_row"
    )
    con.execute(
        f"insert into {quarantine_table(run.config.schema)} select ?, reason, detail, raw_line, "
        f"_source_file, _source_line, _file_checksum, _file_date, null, ?, ? from ({rows}) "
        "where reason is not null",
        [run.config.name, run.run_id, run.loaded_at],
    )


def _unused_reason(grain: InputConfig, item: InputConfig) -> tuple[str, str]:
    """SQL for the reason (null: used) and the detail of a joined row ``x`` with its references."""
    assert item.join is not None
    key_text = " || ', ' || ".join(
        f"{literal(c + ' = ')} || coalesce(cast(x.{ident(c)} as varchar), 'null')" for c, _ in item.join.on
    )
    duplicate = "coalesce(x._tw_rank > 1, false)"
    reason = (
        f"case when x._tw_bad is not null then x._tw_bad when {duplicate} then 'duplicate_key' "
        "when refs._tw_row is null then 'unmatched' when refs.all_quarantined then 'parent_quarantined' end"
    )
    later = literal(f"a later row of {item.name} with the key of an earlier one: ")
    unmatched = literal(f"no {grain.name} row matches: ")
    orphaned = literal(f"every {grain.name} row it joins was quarantined: ")
    detail = (
        "case when x._tw_bad is not null then 'a typed column (column_types) does not parse' "
        f"when {duplicate} then {later} || {key_text} "
        f"when refs._tw_row is null then {unmatched} || {key_text} "
        f"else {orphaned} || {key_text} end"
    )
    return reason, detail


def _references(item: InputConfig) -> str:
    """The rows of ``item`` that grain rows join, and whether all those grain rows were quarantined."""
    assert item.join is not None
    quarantined = "bool_and(r._tw_reason is not null) as all_quarantined"
    if not item.join.aggregate:
        row = ident(f"_tw_row__{item.name}")
        return (
            f"select s.{row} as _tw_row, {quarantined} from {STAGE} as s join {RESULT} as r using (_tw_ord) "
            f"where s.{row} is not null group by 1"
        )
    on = " and ".join(
        f"x.{ident(column)} = s.{ident(f'_tw_key__{item.name}__{i}')}"
        for i, (column, _) in enumerate(item.join.on)
    )
    return (
        f"select x._tw_row, {quarantined} from {_view(item)} as x join {STAGE} as s on {on} "
        f"join {RESULT} as r using (_tw_ord) where x._tw_bad is null group by 1"
    )


def _results(con: duckdb.DuckDBPyConnection, run: LoadRun, listed: list[_Listed]) -> list[FileResult]:
    """Per listed file: rows read, used (loaded) and quarantined; recorded in the manifest.

    A file that landed no row (a header only, an empty file skipped) is recorded with zeros, so
    that the next run sees it as loaded. A lookup's rows belong to the source that owns its file:
    it is recorded as read for its values (status lookup), with no counts of its own.
    """
    counts = {item.name: _file_counts(con, run, item) for item in run.config.inputs}
    loaded = _loaded_per_file(con, run)
    results = []
    for entry in listed:
        read, quarantined, reasons = counts[entry.item.name].get(entry.file.path, (0, 0, {}))
        used = loaded.get(entry.file.path, 0) if entry.item is run.config.inputs[0] else read - quarantined
        if entry.item.lookup:
            result = FileResult(entry.file.path, LOOKUP, entry.file.file_date, entry.stat.checksum)
        elif used + quarantined != read:
            raise IngestError(
                f"{entry.file.path}: {read:,} rows read but {used:,} loaded + {quarantined:,} quarantined; "
                "nothing was written"
            )
        else:
            result = FileResult(
                entry.file.path,
                LOADED,
                entry.file.file_date,
                entry.stat.checksum,
                read,
                used,
                quarantined,
                reasons,
            )
        results.append(result)
    manifest.record_all(con, [_entry(run, r, e.stat.size) for r, e in zip(results, listed, strict=True)])
    return results


def _file_counts(
    con: duckdb.DuckDBPyConnection, run: LoadRun, item: InputConfig
) -> dict[str, tuple[int, int, dict[str, int]]]:
    """Per landed file of an input: rows read, rows quarantined and why."""
    landed = landing_table(run.config.name, item.name)
    reasons: dict[str, dict[str, int]] = {}
    for path, reason, count in con.execute(
        f"select _source_file, reason, count(*) from {quarantine_table(run.config.schema)} "
        f"where source = ? and _source_file in (select _source_file from {landed}) "
        "group by all order by 1, 3 desc, 2",
        [run.config.name],
    ).fetchall():
        reasons.setdefault(str(path), {})[str(reason)] = int(count)
    files = con.execute(f"select _source_file, count(*) from {landed} group by 1").fetchall()
    return {
        str(p): (int(n), sum(reasons.get(str(p), {}).values()), reasons.get(str(p), {})) for p, n in files
    }


def _loaded_per_file(con: duckdb.DuckDBPyConnection, run: LoadRun) -> dict[str, int]:
    grain = landing_table(run.config.name, run.config.inputs[0].name)
    rows = con.execute(
        f"select _source_file, count(*) from {raw_table(run.config.schema)} where _source_file in "
        f"(select _source_file from {grain}) group by 1"
    ).fetchall()
    return {str(path): int(count) for path, count in rows}


def _entry(run: LoadRun, result: FileResult, size: int) -> ManifestEntry:
    key = run.key(result.path, result.checksum or "")
    return ManifestEntry(key, run.config.entity, size, result, run.interval, run.loaded_at, run.run_id)
