"""Stage a batch of export files as text: one DuckDB read for many files.

Every format lands in the same shape. ``_tw_files`` lists the batch (one row per
file: path, checksum, dates, line offset). ``_tw_stage`` holds the rows: the
export's columns as VARCHAR (typing happens later, in SQL, with try_cast so that
a bad value is a quarantine reason rather than a failed load), the file
(``_tw_file``), the row's order (``_tw_ord``), a row hash for duplicate
detection and ``_tw_malformed``. Lines the CSV reader cannot split (wrong
column count, bad quoting, invalid encoding) go to ``_tw_reject_lines`` through
DuckDB's rejects tables instead of failing the read. The view ``_tw_lined``
adds each row's line number in its own file.

Reading many small daily files in one statement matters: planning the typing
query costs tens of milliseconds, which would otherwise be paid per file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from dataclasses import dataclass
from datetime import date

import duckdb

from tierwise.exceptions import IngestError
from tierwise.ingest import lines
from tierwise.ingest.config import FormatOptions, SourceConfig
from tierwise.ingest.files import is_gzipped, is_remote, is_zstd
from tierwise.ingest.lines import csv_options, line_mode_options, path_list
from tierwise.ingest.sql import ident, literal

FILES = "_tw_files"
STAGE = "_tw_stage"
LINED = "_tw_lined"
LINES = "_tw_lines"
REJECT_LINES = "_tw_reject_lines"
SHIFTS = "_tw_shifts"
_REJECTS = "_tw_rejects"
_REJECT_SCANS = "_tw_reject_scans"
_PYTHON_ENCODINGS = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16"}


@dataclass(frozen=True)
class BatchFile:
    index: int
    path: str
    checksum: str
    file_date: date | None
    cutoff: date | None
    """Dates after this are in the future of the export."""
    sliced: bool
    """Only rows whose interval date falls in the run's interval belong to this load."""
    lines: int | None = None
    """Non-empty physical lines of a local text file, counted when it was hashed."""


@dataclass(frozen=True)
class Staged:
    columns: tuple[str, ...]
    """Export column names, as written in the files."""
    raw_line_sql: str
    """SQL over the stage alias ``s`` that gives back a row as text."""


def _short(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:3])


def header_lines(fmt: FormatOptions) -> int:
    """Lines before the first record: skipped preamble plus the header."""
    return fmt.skip_rows + (1 if fmt.header else 0)


# --- what a file looks like before it is read ----------------------------------------------------


def columns_of(con: duckdb.DuckDBPyConnection, config: SourceConfig, path: str) -> tuple[str, ...] | None:
    """The file's column names, or None when it holds nothing at all (not even a header)."""
    fmt = config.format
    try:
        if fmt.type == "parquet":
            described = con.execute(f"describe select * from read_parquet({literal(path)})").fetchall()
            return tuple(str(row[0]) for row in described)
        first = _first_line(con, fmt, path)
    except duckdb.IOException:
        raise
    except (duckdb.Error, OSError, UnicodeError) as error:
        raise IngestError(f"{path}: could not be read as {fmt.type}: {_short(error)}") from None
    if first is None:
        return None
    return () if fmt.type == "jsonl" else _column_names(first, fmt, path)


def _first_line(con: duckdb.DuckDBPyConnection, fmt: FormatOptions, path: str) -> str | None:
    """The first non-blank line after the preamble: the header, or the first record."""
    if not is_remote(path) and not is_zstd(fmt, path):
        return _first_line_local(fmt, path)
    row = con.execute(
        f"select line from read_csv({literal(path)}, {line_mode_options(fmt)}, "
        "ignore_errors = true, strict_mode = false) where trim(line) <> '' limit 1"
    ).fetchone()
    return row[0].rstrip("\r") if row else None


def _first_line_local(fmt: FormatOptions, path: str) -> str | None:
    # Plain Python is much cheaper than a DuckDB scan for one line of each of hundreds of files.
    raw = gzip.open(path, "rb") if is_gzipped(fmt, path) else open(path, "rb")  # noqa: SIM115 - closed below
    with raw, io.TextIOWrapper(raw, encoding=_PYTHON_ENCODINGS[fmt.encoding], errors="replace") as text:
        for index, line in enumerate(text):
            if index >= fmt.skip_rows and line.strip():
                return line.rstrip("\r\n").lstrip(codecs.BOM_UTF8.decode())
    return None


def _column_names(first: str, fmt: FormatOptions, path: str) -> tuple[str, ...]:
    fields = _split_line(first, fmt)
    if fmt.columns:
        if len(fmt.columns) != len(fields):
            raise IngestError(
                f"{path}: format.columns names {len(fmt.columns)} columns but the file has {len(fields)} "
                f"(first line: {first[:120]!r})"
            )
        return fmt.columns
    if not fmt.header:
        return tuple(f"column{index}" for index in range(len(fields)))
    return _unique([field.strip() or f"column{index}" for index, field in enumerate(fields)])


def _split_line(line: str, fmt: FormatOptions) -> list[str]:
    if len(fmt.delimiter) != 1:
        return [part.strip(fmt.quote) if fmt.quote else part for part in line.split(fmt.delimiter)]
    reader = csv.reader(
        [line],
        delimiter=fmt.delimiter,
        quotechar=fmt.quote or None,
        quoting=csv.QUOTE_MINIMAL if fmt.quote else csv.QUOTE_NONE,
        doublequote=fmt.escape == fmt.quote,
        escapechar=None if fmt.escape in ("", fmt.quote) else fmt.escape,
    )
    return next(reader, [])


def _unique(names: list[str]) -> tuple[str, ...]:
    # DuckDB column names are case-insensitive, so "ID" and "id" would collide.
    seen: dict[str, int] = {}
    result = []
    for name in names:
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
        result.append(name if seen[key] == 1 else f"{name}_{seen[key]}")
    return tuple(result)


# --- staging a batch --------------------------------------------------------------------------


def stage_batch(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, files: list[BatchFile], columns: tuple[str, ...]
) -> Staged:
    """Read the files (which share ``columns``) into ``_tw_stage``; rejected lines aside."""
    create_files_table(con, files, header_lines(config.format) if config.format.type == "csv" else 0)
    readers = {"csv": _stage_csv, "jsonl": _stage_jsonl, "parquet": _stage_parquet}
    try:
        staged = readers[config.format.type](con, config.format, files, columns)
    except duckdb.IOException:
        raise
    except duckdb.Error as error:
        shown = files[0].path + (f" (and {len(files) - 1} more)" if len(files) > 1 else "")
        raise IngestError(f"{shown}: could not be read as {config.format.type}: {_short(error)}") from None
    create_lined_view(con)
    return staged


def create_files_table(con: duckdb.DuckDBPyConnection, files: list[BatchFile], offset: int) -> None:
    con.execute(
        f"create or replace temp table {FILES} (_tw_file integer, path varchar, checksum varchar, "
        "file_date date, cutoff date, sliced boolean, line_offset integer, first_ord bigint, "
        "reparsed boolean, physical_lines bigint)"
    )
    # One statement for the whole batch: executemany pays a round trip per file.
    con.execute(
        f"insert into {FILES} select unnest(?::integer[]), unnest(?::varchar[]), unnest(?::varchar[]), "
        "unnest(?::date[]), unnest(?::date[]), unnest(?::boolean[]), ?, null, false, null",
        [
            [f.index for f in files],
            [f.path for f in files],
            [f.checksum for f in files],
            [f.file_date for f in files],
            [f.cutoff for f in files],
            [f.sliced for f in files],
            offset,
        ],
    )


def _stage_csv(
    con: duckdb.DuckDBPyConnection, fmt: FormatOptions, files: list[BatchFile], names: tuple[str, ...]
) -> Staged:
    paths = [f.path for f in files]
    columns = "{" + ", ".join(f"{literal(name)}: 'VARCHAR'" for name in names) + "}"
    values = ", ".join(f"r.{ident(n)}" for n in names)
    _drop_rejects(con)
    con.execute(
        f"create or replace temp table {STAGE} as "
        f"select {values}, r.ordinality as _tw_ord, f._tw_file, false as _tw_malformed, "
        f"null::bigint as _tw_first, hash({values}) as _tw_hash, null::bigint as _tw_line "
        f"from (select *, filename from read_csv({path_list(paths)}, columns = {columns}, "
        f"{csv_options(fmt, header=fmt.header, skip=fmt.skip_rows)}, {_rejects_options()}) "
        "with ordinality) as r "
        f"join {FILES} as f on f.path = r.filename"
    )
    _number_files(con, STAGE)
    _collect_rejects(con)
    _account_for_lines(con, fmt, files, names)
    return Staged(columns=names, raw_line_sql=csv_line_sql(names, fmt))


def _rejects_options() -> str:
    return f"store_rejects = true, rejects_table = '{_REJECTS}', rejects_scan = '{_REJECT_SCANS}'"


def csv_line_sql(names: tuple[str, ...], fmt: FormatOptions) -> str:
    """A row rendered back as one CSV line in the file's own dialect."""
    quote, delimiter = fmt.quote, fmt.delimiter
    parts = []
    for name in names:
        value = f"s.{ident(name)}"
        if quote:
            needs_quotes = " or ".join(
                f"contains({value}, {literal(char)})" for char in (delimiter, quote, "\n", "\r")
            )
            doubled = f"replace({value}, {literal(quote)}, {literal(quote * 2)})"
            escaped = f"{literal(quote)} || {doubled} || {literal(quote)}"
            value = f"case when {needs_quotes} then {escaped} else {value} end"
        parts.append(f"coalesce({value}, '')")
    return f"array_to_string([{', '.join(parts)}], {literal(delimiter)})"


def _number_files(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Remember where each file starts in the batch's row order (rows of a file are consecutive)."""
    con.execute(
        f"update {FILES} set first_ord = starts.first_ord from "
        f"(select _tw_file, min(_tw_ord) as first_ord from {table} group by 1) as starts "
        f"where {FILES}._tw_file = starts._tw_file"
    )


def _drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"drop table if exists {_REJECTS}")
    con.execute(f"drop table if exists {_REJECT_SCANS}")


def _collect_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """One row per rejected line, and the line-number shift it causes for the rows after it."""
    con.execute(
        f"create or replace temp table {REJECT_LINES} as "
        "select f._tw_file, e.line::bigint as _source_line, "
        "bool_or(e.error_type::varchar = 'INVALID ENCODING') as invalid_encoding, "
        "string_agg(distinct e.error_type::varchar, ', ') as error_types, "
        "min(split_part(e.error_message, chr(10), 1)) as message, min(e.csv_line) as raw_line "
        f"from {_REJECTS} as e join {_REJECT_SCANS} as s using (scan_id, file_id) "
        f"join {FILES} as f on f.path = s.file_path group by all"
    )
    # DuckDB numbers rejected lines itself; a row read after k rejected lines of its file sits
    # k lines further down than its ordinal says. Before the j-th rejected line of a file,
    # (line - offset - j) rows were read.
    con.execute(
        f"create or replace temp table {SHIFTS} as "
        "select _tw_file, rows_before, max(n) as n from ("
        "select r._tw_file, r._source_line - f.line_offset - row_number() over w as rows_before, "
        "row_number() over w as n "
        f"from {REJECT_LINES} as r join {FILES} as f using (_tw_file) "
        "window w as (partition by r._tw_file order by r._source_line)) group by all"
    )


# --- every physical line accounted for ------------------------------------------------------------


def _account_for_lines(
    con: duckdb.DuckDBPyConnection, fmt: FormatOptions, files: list[BatchFile], names: tuple[str, ...]
) -> None:
    """Check the stage against each file's physical lines; re-read line by line what does not add up.

    IngestError when a file still cannot be accounted for: rows are never lost silently.
    """
    remote = [f.path for f in files if f.lines is None]
    counted = lines.count_lines(con, fmt, remote) if remote else {}
    expected = {}
    for f in files:
        total = counted.get(f.path, 0) if f.lines is None else f.lines - lines.preamble_non_empty(fmt, f.path)
        expected[f.path] = max(total - (1 if fmt.header and total else 0), 0)
    con.execute(
        f"update {FILES} set physical_lines = e.n "
        "from (select unnest(?::varchar[]) as path, unnest(?::bigint[]) as n) as e "
        f"where {FILES}.path = e.path",
        [list(expected), list(expected.values())],
    )
    for index, path in _unaccounted(con, names):
        covered = _reparse_file(con, fmt, index, path, names)
        if covered != expected[path]:
            raise IngestError(
                f"{path}: {covered:,} lines read or rejected, but the file holds {expected[path]:,} "
                "non-empty lines; nothing of it was loaded (the file defeats both the CSV reader and "
                "its line-by-line fallback: please report it)"
            )


def _unaccounted(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> list[tuple[int, str]]:
    """Files whose staged rows (and the lines they span) plus rejected lines differ from their lines."""
    newlines = " + ".join(
        f"coalesce(len({ident(n)}) - len(replace({ident(n)}, chr(10), '')), 0)" for n in names
    )
    return [
        (int(index), str(path))
        for index, path in con.execute(
            f"""
            with staged as (select _tw_file, count(*) as n from {STAGE} group by 1),
            rejected as (select _tw_file, count(*) as n from {REJECT_LINES} group by 1),
            simple as (
                select f._tw_file, f.path, f.physical_lines,
                    coalesce(staged.n, 0) + coalesce(rejected.n, 0) as covered
                from {FILES} as f left join staged using (_tw_file) left join rejected using (_tw_file)
                where not f.reparsed
            ),
            -- Quoted values spanning lines explain the difference; only the files that differ pay
            -- for counting the line breaks inside values.
            spanned as (
                select _tw_file, sum({newlines or "0"}) as n from {STAGE}
                where _tw_file in (select _tw_file from simple where covered <> physical_lines)
                group by 1
            )
            select simple._tw_file, simple.path from simple left join spanned using (_tw_file)
            where simple.covered + coalesce(spanned.n, 0) <> simple.physical_lines
            order by 1
            """
        ).fetchall()
    ]


def _reparse_file(
    con: duckdb.DuckDBPyConnection, fmt: FormatOptions, index: int, path: str, names: tuple[str, ...]
) -> int:
    """Replace a file's staged rows and rejected lines with a line-by-line re-read of it.

    Returns the non-empty lines the re-read covers (records and rejected lines).
    """
    texts, undecodable = lines.read_lines(con, fmt, path)
    records, bad = lines.reparse(texts, undecodable, fmt, len(names))
    con.execute(f"delete from {STAGE} where _tw_file = ?", [index])
    con.execute(f"delete from {REJECT_LINES} where _tw_file = ?", [index])
    con.execute(f"delete from {SHIFTS} where _tw_file = ?", [index])
    con.execute(f"update {FILES} set reparsed = true where _tw_file = ?", [index])
    _stage_records(con, index, records, names, fmt.skip_rows)
    if bad:
        _insert_bad_lines(con, fmt, index, bad)
    return sum(record.covers for record in records) + len(bad)


def _insert_bad_lines(
    con: duckdb.DuckDBPyConnection, fmt: FormatOptions, index: int, bad: list[lines.BadLine]
) -> None:
    con.executemany(
        f"insert into {REJECT_LINES} values (?, ?, ?, ?, ?, ?)",
        [
            [
                index,
                fmt.skip_rows + b.line,
                b.problem.startswith("INVALID ENCODING"),
                *_split_problem(b),
                b.text,
            ]
            for b in bad
        ],
    )


def _split_problem(bad: lines.BadLine) -> tuple[str, str]:
    kind, _, sentence = bad.problem.partition(": ")
    return kind, sentence


def _stage_records(
    con: duckdb.DuckDBPyConnection, index: int, records: list[lines.Record], names: tuple[str, ...], skip: int
) -> None:
    if not records:
        return
    import pyarrow as pa  # only the rare re-read file needs it

    # fetchall, not fetchone: registering a table needs no result left pending on the connection.
    first = int(con.execute(f"select coalesce(max(_tw_ord), 0) from {STAGE}").fetchall()[0][0]) + 1
    table = pa.table(
        {
            **{f"c{i}": pa.array([r.values[i] for r in records], pa.string()) for i in range(len(names))},
            "_tw_ord": pa.array(range(first, first + len(records)), pa.int64()),
            "_tw_line": pa.array([skip + r.line for r in records], pa.int64()),
        }
    )
    values = ", ".join(f"c{i}" for i in range(len(names)))
    renamed = ", ".join(f"c{i} as {ident(name)}" for i, name in enumerate(names))
    con.register("_tw_reparsed", table)
    try:
        con.execute(
            f"insert into {STAGE} by name select {renamed}, _tw_ord, {index}::integer as _tw_file, "
            f"false as _tw_malformed, null::bigint as _tw_first, hash({values}) as _tw_hash, _tw_line "
            "from _tw_reparsed"
        )
    finally:
        con.unregister("_tw_reparsed")


def empty_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"create or replace temp table {REJECT_LINES} as select null::integer as _tw_file, "
        "null::bigint as _source_line, false as invalid_encoding, ''::varchar as error_types, "
        "''::varchar as message, ''::varchar as raw_line limit 0"
    )
    con.execute(
        f"create or replace temp table {SHIFTS} as select null::integer as _tw_file, "
        "null::bigint as rows_before, null::bigint as n limit 0"
    )


def create_lined_view(con: duckdb.DuckDBPyConnection) -> None:
    """``_tw_lined``: the stage with each row's line in its file and the file's dates."""
    ordinal = "s._tw_ord - f.first_ord + 1"
    join, shift = "", "0"
    has_shifts = con.execute(f"select count(*) > 0 from {SHIFTS}").fetchone()
    if has_shifts and has_shifts[0]:
        # The ASOF join sorts every row: it is only worth it when some line was rejected.
        on = f"shift._tw_file = s._tw_file and {ordinal} > shift.rows_before"
        join = f"asof left join {SHIFTS} as shift on {on}"
        shift = "coalesce(shift.n, 0)"
    con.execute(
        f"create or replace temp view {LINED} as "
        f"select s.*, coalesce(s._tw_line, {ordinal} + f.line_offset + {shift}) as _source_line, "
        "f.file_date as _tw_file_date, f.cutoff as _tw_cutoff, f.sliced as _tw_sliced "
        f"from {STAGE} as s join {FILES} as f using (_tw_file) {join}"
    )


# --- JSON Lines --------------------------------------------------------------------------------


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, fmt: FormatOptions, files: list[BatchFile], _columns: tuple[str, ...]
) -> Staged:
    paths = [f.path for f in files]
    _drop_rejects(con)
    # Read physical lines, not JSON: a malformed line then becomes a quarantined row with its
    # text and line number instead of an error (or a silent skip with ignore_errors).
    con.execute(
        f"create or replace temp table {LINES} as "
        "select r.line as _tw_text, r.ordinality as _tw_ord, f._tw_file, "
        "case when json_valid(r.line) then json_type(r.line) = 'OBJECT' else false end as _tw_object "
        f"from (select *, filename from read_csv({path_list(paths)}, {line_mode_options(fmt)}, "
        f"{_rejects_options()}) with ordinality) as r join {FILES} as f on f.path = r.filename"
    )
    _number_files(con, LINES)
    _collect_rejects(con)
    keys = tuple(
        row[0]
        for row in con.execute(
            "select key from (select unnest(json_keys(_tw_text)) as key, _tw_ord "
            f"from {LINES} where _tw_object) group by key order by min(_tw_ord), key"
        ).fetchall()
    )
    _build_json_stage(con, keys)
    return Staged(columns=keys, raw_line_sql="s._tw_text")


def _build_json_stage(con: duckdb.DuckDBPyConnection, keys: tuple[str, ...]) -> None:
    def extract(key: str) -> str:
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"case when _tw_object then json_extract_string(_tw_text, {literal(path)}) end as {ident(key)}"

    selected = "".join(f"{extract(key)}, " for key in keys)
    values = ", ".join(ident(key) for key in keys)
    row_hash = f"hash({values})" if keys else "null::ubigint"
    # Blank lines are not records; they keep their place in the line numbering all the same.
    con.execute(
        f"create or replace temp table {STAGE} as "
        f"select *, null::bigint as _tw_first, {row_hash} as _tw_hash, null::bigint as _tw_line from ("
        f"select {selected}_tw_ord, _tw_file, not _tw_object as _tw_malformed, _tw_text "
        f"from {LINES} where trim(coalesce(_tw_text, '')) <> '')"
    )


# --- Parquet -----------------------------------------------------------------------------------


def _stage_parquet(
    con: duckdb.DuckDBPyConnection, _fmt: FormatOptions, files: list[BatchFile], names: tuple[str, ...]
) -> Staged:
    paths = [f.path for f in files]
    selected = ", ".join(f"cast(r.{ident(n)} as varchar) as {ident(n)}" for n in names)
    values = ", ".join(ident(n) for n in names)
    con.execute(
        f"create or replace temp table {STAGE} as "
        f"select *, false as _tw_malformed, null::bigint as _tw_first, hash({values}) as _tw_hash, "
        "null::bigint as _tw_line from ("
        # file_row_number restarts with every file; the file index keeps _tw_ord unique in the batch.
        f"select {selected}, (f._tw_file::bigint << 40) + r.file_row_number as _tw_ord, f._tw_file "
        f"from read_parquet({path_list(paths)}, filename = true, file_row_number = true) as r "
        f"join {FILES} as f on f.path = r.filename)"
    )
    _number_files(con, STAGE)
    empty_rejects(con)
    pairs = ", ".join(f"{literal(n)}, s.{ident(n)}" for n in names)
    return Staged(columns=names, raw_line_sql=f"json_object({pairs})::varchar")
