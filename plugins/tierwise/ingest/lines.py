"""What a text export physically holds, independent of the CSV parser.

DuckDB's CSV reader is fast, but one unbalanced quote makes it treat the rest of
the file as one quoted value: the following rows vanish, or become one giant
rejected line, and the counts still add up. Row accounting therefore checks
every staged text file against a second, parser-independent truth: its
non-empty physical lines, counted by a line-mode scan (no quotes, no
delimiter). A file the fast reader cannot account for is re-read here line by
line, where a quoted value may span several lines only if its quote closes
within :data:`MAX_RECORD_LINES`; otherwise just the line that opened it is
rejected and reading resumes on the next line. This re-read is plain Python
(the csv module) because no SQL reader offers "a quote never crosses more than
N lines"; it runs only for the rare broken file.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import duckdb

from tierwise.ingest.config import FormatOptions
from tierwise.ingest.files import counts_lines, is_gzipped
from tierwise.ingest.sql import literal

MAX_RECORD_LINES = 1000
"""The most physical lines one quoted value may span in the line-by-line re-read."""
# A separator that never occurs in text data, so that each physical line is one value.
_LINE_MODE_DELIMITER = "\x01"
_LINE_REJECTS = "_tw_line_rejects"
_LINE_REJECT_SCANS = "_tw_line_reject_scans"


def path_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(literal(path) for path in paths) + "]"


def csv_options(fmt: FormatOptions, *, header: bool, skip: int) -> str:
    return ", ".join(
        [
            f"header = {str(header).lower()}",
            f"delim = {literal(fmt.delimiter)}",
            f"quote = {literal(fmt.quote)}",
            f"escape = {literal(fmt.escape)}",
            f"encoding = {literal(fmt.encoding)}",
            f"compression = {literal(fmt.compression)}",
            f"skip = {skip}",
            "auto_detect = false",
        ]
    )


def line_mode_options(fmt: FormatOptions) -> str:
    """read_csv options that return each physical line as one value (empty lines as null)."""
    line_fmt = replace(fmt, delimiter=_LINE_MODE_DELIMITER, quote="", escape="")
    return "columns = {'line': 'VARCHAR'}, " + csv_options(line_fmt, header=False, skip=fmt.skip_rows)


def _drop_line_rejects(con: duckdb.DuckDBPyConnection) -> None:
    # The rejects tables keep every scan of the connection: start each read with empty ones.
    con.execute(f"drop table if exists {_LINE_REJECTS}")
    con.execute(f"drop table if exists {_LINE_REJECT_SCANS}")


def _line_rejects_options() -> str:
    return f"store_rejects = true, rejects_table = '{_LINE_REJECTS}', rejects_scan = '{_LINE_REJECT_SCANS}'"


def count_lines(con: duckdb.DuckDBPyConnection, fmt: FormatOptions, paths: Sequence[str]) -> dict[str, int]:
    """Non-empty physical lines per remote file after ``skip_rows`` (a header line included).

    Local CSV is counted in Python (files.inspect_content), byte by byte; DuckDB's line mode,
    used here for the other files (object storage, UTF-16, zstd), also breaks lines at a lone CR.
    """
    _drop_line_rejects(con)
    read = con.execute(
        f"select filename, count(line) filter (where line <> '') "
        f"from read_csv({path_list(paths)}, {line_mode_options(fmt)}, strict_mode = false, "
        f"filename = true, {_line_rejects_options()}) group by 1"
    ).fetchall()
    counts = {str(path): int(count) for path, count in read}
    for path, count in con.execute(
        f"select s.file_path, count(distinct e.line) from {_LINE_REJECTS} as e "
        f"join {_LINE_REJECT_SCANS} as s using (scan_id, file_id) group by 1"
    ).fetchall():
        counts[str(path)] = counts.get(str(path), 0) + int(count)
    return counts


def preamble_non_empty(fmt: FormatOptions, path: str) -> int:
    """Non-empty lines among the ``skip_rows`` preamble lines of a local file."""
    if not fmt.skip_rows:
        return 0
    with gzip.open(path, "rb") if is_gzipped(fmt, path) else open(path, "rb") as handle:
        preamble = [handle.readline() for _ in range(fmt.skip_rows)]
    return sum(1 for line in preamble if line.rstrip(b"\r\n"))


def read_lines(
    con: duckdb.DuckDBPyConnection, fmt: FormatOptions, path: str
) -> tuple[list[str | None], dict[int, str]]:
    """A file's physical lines after ``skip_rows`` (None for an empty line), and the undecodable ones.

    The second value maps the 1-based line number (after ``skip_rows``) of each line that could
    not be decoded to its text; those lines are missing from the first list.
    """
    if not counts_lines(fmt, path):
        return _read_lines_duckdb(con, fmt, path)
    texts: list[str | None] = []
    undecodable: dict[int, str] = {}
    encoding = "utf-8-sig" if fmt.encoding == "utf-8" else fmt.encoding
    for number, raw in enumerate(_local_lines(fmt, path)[fmt.skip_rows :], start=1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        try:
            texts.append(line.decode(encoding if number == 1 else fmt.encoding) or None)
        except UnicodeDecodeError:
            undecodable[number] = line.decode(fmt.encoding, errors="replace")
    return texts, undecodable


def _local_lines(fmt: FormatOptions, path: str) -> list[bytes]:
    opener = gzip.open if is_gzipped(fmt, path) else open
    with opener(path, "rb") as handle:
        data = handle.read()
    pieces = data.split(b"\n")
    return pieces[:-1] if pieces and pieces[-1] == b"" else pieces


def _read_lines_duckdb(
    con: duckdb.DuckDBPyConnection, fmt: FormatOptions, path: str
) -> tuple[list[str | None], dict[int, str]]:
    _drop_line_rejects(con)
    rows = con.execute(
        f"select line from read_csv({literal(path)}, {line_mode_options(fmt)}, strict_mode = false, "
        f"{_line_rejects_options()})"
    ).fetchall()
    # DuckDB numbers rejected lines from the top of the file, the skipped preamble included.
    undecodable = {
        int(line) - fmt.skip_rows: str(text or "").strip("\r\n")
        for line, text in con.execute(
            f"select line, min(csv_line) from {_LINE_REJECTS} group by 1 order by 1"
        ).fetchall()
    }
    return [row[0] for row in rows], undecodable


@dataclass(frozen=True)
class Record:
    line: int
    """Physical line (counted from the first line after ``skip_rows``) where the record starts."""
    values: tuple[str | None, ...]
    covers: int
    """Non-empty physical lines the record spans."""


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    problem: str
    """An upper-case kind (as DuckDB names its CSV errors), then a sentence."""


def reparse(
    lines: Sequence[str | None], undecodable: dict[int, str], fmt: FormatOptions, width: int
) -> tuple[list[Record], list[BadLine]]:
    """Read physical lines as CSV records, rejecting the smallest span that cannot be read.

    ``lines`` excludes the undecodable ones (their numbers are the keys of ``undecodable``);
    every non-empty line ends in exactly one record or bad line, the header excepted.
    """
    numbered = list(_renumber(lines, undecodable))
    records: list[Record] = []
    encoding = "INVALID ENCODING: the line is not valid " + fmt.encoding
    bad = [BadLine(number, text, encoding) for number, text in undecodable.items()]
    position = _skip_header(numbered, fmt)
    while position < len(numbered):
        number, text = numbered[position]
        if text is None:
            position += 1
            continue
        record, problem, span = _record_at(numbered, position, fmt, width)
        if record is None:
            bad.append(BadLine(number, text, problem))
            position += 1
        else:
            records.append(record)
            position += span
    return records, sorted(bad, key=lambda item: item.line)


def _renumber(lines: Sequence[str | None], undecodable: dict[int, str]) -> Iterator[tuple[int, str | None]]:
    number = 0
    for text in lines:
        number += 1
        while number in undecodable:
            number += 1
        yield number, text


def _skip_header(numbered: list[tuple[int, str | None]], fmt: FormatOptions) -> int:
    if not fmt.header:
        return 0
    for index, (_, text) in enumerate(numbered):
        if text is not None:
            return index + 1
    return len(numbered)


def _record_at(
    numbered: list[tuple[int, str | None]], start: int, fmt: FormatOptions, width: int
) -> tuple[Record | None, str, int]:
    """The record starting at ``start``: (record, "", lines used) or (None, problem, 0)."""
    span = _quoted_span(numbered, start, fmt)
    if span is None:
        return (
            None,
            (
                f"UNBALANCED QUOTE: a quoted value opens on this line and does not close within "
                f"{MAX_RECORD_LINES:,} lines"
            ),
            0,
        )
    text = "\n".join(line or "" for _, line in numbered[start : start + span])
    try:
        fields = _fields(text, fmt)
    except csv.Error as error:
        return None, f"INVALID QUOTING: {error}", 0
    if len(fields) != width:
        kind = "TOO MANY COLUMNS" if len(fields) > width else "MISSING COLUMNS"
        return None, f"{kind}: {len(fields)} values, expected {width}", 0
    covers = sum(1 for _, line in numbered[start : start + span] if line)
    values = tuple(value if value != "" else None for value in fields)
    return Record(numbered[start][0], values, covers), "", span


def _quoted_span(numbered: list[tuple[int, str | None]], start: int, fmt: FormatOptions) -> int | None:
    """How many physical lines the record at ``start`` spans: until its quotes balance."""
    if not fmt.quote or len(fmt.delimiter) != 1:
        return 1
    open_quote = False
    for offset, (_, text) in enumerate(numbered[start : start + MAX_RECORD_LINES]):
        if _quote_count(text or "", fmt) % 2:
            open_quote = not open_quote
        if not open_quote:
            return offset + 1
    return None


def _quote_count(text: str, fmt: FormatOptions) -> int:
    count = text.count(fmt.quote)
    if fmt.escape and fmt.escape != fmt.quote:
        count -= text.count(fmt.escape + fmt.quote)
    return count


def _fields(text: str, fmt: FormatOptions) -> list[str]:
    if len(fmt.delimiter) != 1:
        return [part.strip(fmt.quote) if fmt.quote else part for part in text.split(fmt.delimiter)]
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=fmt.delimiter,
        quotechar=fmt.quote or None,
        quoting=csv.QUOTE_MINIMAL if fmt.quote else csv.QUOTE_NONE,
        doublequote=fmt.escape == fmt.quote,
        escapechar=None if fmt.escape in ("", fmt.quote) else fmt.escape,
        strict=True,
    )
    rows = list(reader)
    if len(rows) != 1:
        raise csv.Error(f"{len(rows)} records where one was expected")
    return rows[0]
