"""What a dry run would change, field by field, for a sample of the records it would send.

The sync state keeps one hash per record, not the values sent (a million rows of JSON would
double the state's size and every publish's writes), so the old side comes from the destination
itself when it can be read back (the operational tables: SQLite and PostgreSQL). Elsewhere (a
CRM, notifications) a record that is new shows all its fields, and a changed one its new values
with the old ones unknown. Personal fields (e-mail, phone, name, and the CRM's ``_id_email`` and
``_id_phone``) are replaced by a token in both, and every value goes through :func:`mask`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import duckdb

from tierwise.masking import PERSONAL_COLUMNS, mask, redact_personal

# The sample shows the records that change first, then new ones, removals and retries.
KIND_ORDER = {"changed": 0, "new": 1, "delete": 2, "retry": 3}
UNKNOWN = "?"


@runtime_checkable
class ReadsBack(Protocol):
    """A destination that can say what it holds now for some records (column -> value)."""

    def current(self, keys: Sequence[str]) -> Mapping[str, Mapping[str, Any]] | None:
        """None when it cannot be read now: the old values are then unknown."""


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str | None
    new: str | None

    def text(self) -> str:
        before, after = ("-" if value is None else value for value in (self.old, self.new))
        return f"{self.field} {before} -> {after}"


@dataclass(frozen=True)
class RecordDiff:
    """One sampled record: its change kind, key, and the fields that would change."""

    kind: str
    key: str
    changes: tuple[FieldChange, ...]
    old_known: bool = True

    def line(self) -> str:
        fields = "; ".join(change.text() for change in self.changes) or "no field differs"
        told = "" if self.old_known else " (old values unknown: this destination is not read back)"
        return f"{self.kind} {self.key}: {fields}{told}"


def is_personal(field: str) -> bool:
    return field in PERSONAL_COLUMNS or field.removeprefix("_id_") in PERSONAL_COLUMNS


def shown(field: str, value: Any) -> str | None:
    """A value as the diff prints it: personal fields as a token, everything masked."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = str(value)
    return str(redact_personal(field.removeprefix("_id_"), text)) if is_personal(field) else mask(text)


def _as_new(old: Any, new: Any) -> Any:
    """The old value in the new one's Python type (SQLite keeps booleans as 0/1, decimals as text)."""
    if isinstance(new, bool) and isinstance(old, int):
        return bool(old)
    if isinstance(new, Decimal) and isinstance(old, str | int | float):
        return Decimal(str(old))
    if isinstance(new, float) and isinstance(old, int | float | str):
        return float(old)
    return old


def _changes(
    columns: Sequence[str], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[FieldChange]:
    found = []
    for name in columns:
        before = None if old is None else old.get(name)
        after = None if new is None else new.get(name)
        before = _as_new(before, after) if after is not None else before
        if old is not None and new is not None and shown(name, before) == shown(name, after):
            continue
        found.append(FieldChange(name, shown(name, before), shown(name, after)))
    return found


def sample_keys(diff: Sequence[tuple[str, str]], size: int) -> list[tuple[str, str]]:
    """Up to ``size`` (kind, key) of the dry run's sample, changed records first."""
    return sorted(diff, key=lambda item: (KIND_ORDER.get(item[0], 9), item[1]))[:size]


def _new_values(
    con: duckdb.DuckDBPyConnection, keys: Sequence[str], columns: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The staged source rows (``_tw_src``) of ``keys``."""
    from tierwise.publish.state import quote

    if not keys:
        return {}
    selected = ", ".join(quote(name) for name in columns)
    rows = con.execute(
        f"select record_key, {selected} from _tw_src where record_key in (select unnest(?::varchar[]))",
        [list(keys)],
    ).fetchall()
    return {str(row[0]): dict(zip(columns, row[1:], strict=True)) for row in rows}


def field_diffs(
    con: duckdb.DuckDBPyConnection,
    sample: Sequence[tuple[str, str]],
    columns: Sequence[str],
    destination: object,
) -> tuple[RecordDiff, ...]:
    """The field changes of the sampled records, old values read back from the destination if it can."""
    keys = [key for _, key in sample]
    new = _new_values(con, keys, columns)
    old = destination.current(keys) if isinstance(destination, ReadsBack) else None
    return tuple(_record_diff(kind, key, columns, old, new.get(key)) for kind, key in sample)


def _record_diff(
    kind: str,
    key: str,
    columns: Sequence[str],
    old: Mapping[str, Mapping[str, Any]] | None,
    new: Mapping[str, Any] | None,
) -> RecordDiff:
    after = None if kind == "delete" else new
    if old is not None:
        return RecordDiff(kind, key, tuple(_changes(columns, old.get(key), after)))
    if kind == "new":
        return RecordDiff(kind, key, tuple(_changes(columns, None, after)))
    unknown = [FieldChange(name, UNKNOWN, shown(name, (after or {}).get(name))) for name in columns]
    return RecordDiff(kind, key, tuple(unknown), old_known=False)
