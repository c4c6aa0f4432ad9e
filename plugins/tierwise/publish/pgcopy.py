"""PostgreSQL COPY text of a batch, rendered by DuckDB.

The database destination never turns a batch into Python objects: DuckDB writes the
window's upserts in COPY's text format (tab-separated fields, ``\\N`` for null, backslash
escapes), psycopg sends the text as it is, and PostgreSQL parses it into the target's
column types. Values are DuckDB's own text: exact decimals, ISO dates and timestamps,
shortest round-trip doubles, ``true``/``false``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from tierwise.publish.state import quote

# Types whose text form never holds a tab, newline, carriage return or backslash.
_PLAIN_TYPES = frozenset(
    {
        "BOOLEAN",
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
        "DATE",
        "TIMESTAMP",
    }
)
# COPY text escapes, backslash first (DuckDB string literals take backslashes as they are).
_ESCAPES = (("'\\'", "'\\\\'"), ("chr(9)", "'\\t'"), ("chr(10)", "'\\n'"), ("chr(13)", "'\\r'"))


def _is_plain(kind: str) -> bool:
    return kind.upper() in _PLAIN_TYPES or kind.upper().startswith("DECIMAL")


def _field(name: str, escape: bool) -> str:
    text = f"{quote(name)}::varchar"
    if escape:
        for raw, escaped in _ESCAPES:
            text = f"replace({text}, {raw}, {escaped})"
    return f"coalesce({text}, '\\N')"


def _render(
    con: duckdb.DuckDBPyConnection, window: tuple[int, int], columns: Sequence[str], *, escape: bool
) -> Any:
    types = {str(row[0]): str(row[1]) for row in con.execute("describe _tw_pending").fetchall()}
    loose = [name for name in columns if not _is_plain(types[name])]
    fields = ", ".join(_field(name, escape and name in loose) for name in columns)
    nulls = " + ".join(f"({quote(name)} is null)::bigint" for name in columns)
    return con.execute(
        f"select count(*), string_agg(concat_ws(chr(9), {fields}), chr(10)), sum({nulls}), "
        f"{len(loose)} > 0 from _tw_pending where rn > ? and rn <= ? and op = 'upsert'",
        list(window),
    ).fetchone()


def _needs_escaping(text: str, rows: int, fields: int, nulls: int) -> bool:
    """Whether unescaped ``text`` holds a character that COPY would misread.

    Escaping costs more than the rest of the rendering and is almost never needed, so the
    plain text is checked instead: it has exactly one tab between fields, one newline
    between rows and one backslash per null (``\\N``) unless a value holds one of them,
    and carriage returns only inside values. (str.count runs at memory speed; a regular
    expression over every row in DuckDB cost over a quarter of the rendering.)
    """
    return (
        text.count("\t") != rows * (fields - 1)
        or text.count("\n") != rows - 1
        or text.count("\\") != nulls
        or "\r" in text
    )


def copy_text(
    con: duckdb.DuckDBPyConnection, start: int, stop: int, columns: Sequence[str]
) -> tuple[int, str]:
    """The upserts of ranks ``start < rn <= stop`` of ``_tw_pending`` as COPY text, and their count."""
    row = _render(con, (start, stop), columns, escape=False)
    if not row or not row[0]:
        return 0, ""
    count, text, nulls, loose = int(row[0]), str(row[1]), int(row[2]), bool(row[3])
    if loose and _needs_escaping(text, count, len(columns), nulls):
        text = str(_render(con, (start, stop), columns, escape=True)[1])
    return count, text + "\n"
