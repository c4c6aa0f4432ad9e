"""Small SQL text helpers: quoting, and reading a user expression with DuckDB's own parser.

Config values end up inside generated SQL, so every identifier and literal goes
through :func:`ident` or :func:`literal`; user expressions are parsed by DuckDB
(``json_serialize_sql``) so that a typo fails at config load, not mid-run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb


def ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def literal_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


@dataclass(frozen=True)
class ParsedExpression:
    sql: str
    columns: frozenset[str]
    """Lower-cased names of the columns the expression reads."""
    has_window: bool
    qualifiers: frozenset[str] = frozenset()
    """Lower-cased prefixes of qualified names (``items`` in ``items.price``)."""
    names: frozenset[tuple[str, ...]] = frozenset()
    """Every name read, lower-cased and whole (``("items", "price")``)."""


def parse_expression(con: duckdb.DuckDBPyConnection, sql: str) -> ParsedExpression:
    """Parse one scalar SQL expression, or raise ValueError saying what is wrong."""
    raw = con.execute("select json_serialize_sql(?)", ["select " + sql]).fetchone()
    tree = json.loads(raw[0]) if raw else {"error": True, "error_message": "no answer from the parser"}
    if tree.get("error"):
        raise ValueError(f"not a valid SQL expression ({tree.get('error_message')})")
    node = _single_select(tree)
    item = node["select_list"][0]
    if item.get("alias"):
        raise ValueError(
            f"reads as {sql.rsplit(' ', 1)[0]!r} renamed to {item['alias']!r}; "
            "a column name with spaces must be double-quoted, e.g. '\"Unit Price\"'"
        )
    if item.get("class") == "STAR":
        raise ValueError("'*' is not a field value")
    return ParsedExpression(
        sql=sql,
        columns=frozenset(_column_refs(item)),
        has_window=_has_window(item),
        qualifiers=frozenset(_qualifiers(item)),
        names=frozenset(
            tuple(name.lower() for name in ref["column_names"])
            for ref in _walk(item)
            if ref.get("class") == "COLUMN_REF" and ref.get("column_names")
        ),
    )


def _single_select(tree: dict[str, Any]) -> dict[str, Any]:
    statements = tree.get("statements") or []
    node = statements[0]["node"] if len(statements) == 1 else {}
    clauses = ("where_clause", "having", "qualify")
    plain = (
        node.get("type") == "SELECT_NODE"
        and len(node.get("select_list", [])) == 1
        and node.get("from_table", {}).get("type") == "EMPTY"
        and not any(node.get(clause) for clause in clauses)
        and not node.get("group_expressions")
    )
    if not plain:
        raise ValueError("must be a single expression (no FROM, WHERE, commas or several statements)")
    return node


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _column_refs(node: dict[str, Any]) -> set[str]:
    return {
        item["column_names"][-1].lower()
        for item in _walk(node)
        if item.get("class") == "COLUMN_REF" and item.get("column_names")
    }


def _qualifiers(node: dict[str, Any]) -> set[str]:
    return {
        item["column_names"][0].lower()
        for item in _walk(node)
        if item.get("class") == "COLUMN_REF" and len(item.get("column_names") or []) > 1
    }


def _has_window(node: dict[str, Any]) -> bool:
    return any(item.get("class") == "WINDOW" for item in _walk(node))


_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?")


def check_type(con: duckdb.DuckDBPyConnection, type_name: str) -> None:
    """Raise ValueError unless ``type_name`` is a DuckDB type."""
    # The name is pasted into SQL below, so only plain type spellings get that far.
    if not _TYPE_NAME.fullmatch(type_name.strip()):
        raise ValueError(f"{type_name!r} is not a DuckDB type name")
    try:
        con.execute(f"select cast(null as {type_name})")
    except duckdb.Error as error:
        raise ValueError(f"{type_name!r} is not a DuckDB type ({_first_line(error)})") from None


def check_date_format(con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    """Raise ValueError unless ``fmt`` is a strptime format DuckDB accepts."""
    try:
        con.execute("select try_strptime('2024-01-01', ?)", [fmt])
    except duckdb.Error as error:
        raise ValueError(f"{fmt!r} is not a strptime format ({_first_line(error)})") from None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
