"""Operational tables shared by the PostgreSQL and SQLite destinations.

``customer_tiers`` mirrors the mart (upsert by customer_id, removed customers deleted).
``tier_change_events`` is the outbox other systems consume: one row per change_key at
its latest revision (:mod:`tierwise.publish.revisions`). A corrected event is updated in
place with a higher ``revision``; an event that left the mart is never deleted but kept
with ``retracted = true``; ``_synced_at`` tells a consumer which rows moved since it last
read. Column types follow the mart, mapped per database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

UPSERT_TABLE = "upsert"  # a mirror: rows upserted, removed records deleted
OUTBOX_TABLE = "outbox"  # rows upserted, never deleted (a removed event is retracted, not gone)

_PG_TYPES = {
    "VARCHAR": "text",
    "DATE": "date",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "HUGEINT": "numeric(38,0)",
    "UBIGINT": "numeric(20,0)",
    "UINTEGER": "bigint",
}


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)
    mode: str = UPSERT_TABLE
    # SQL defaults of columns added to a table that has rows: what those rows already mean.
    added_defaults: tuple[tuple[str, str], ...] = ()

    def added(self, name: str) -> str:
        """`` default ...`` for column ``name`` when added to an existing table, else nothing."""
        default = dict(self.added_defaults).get(name)
        return f" default {default}" if default is not None else ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def non_key(self) -> tuple[str, ...]:
        return tuple(name for name in self.names if name != self.key)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pg_type(duck_type: str) -> str:
    upper = duck_type.upper()
    if upper.startswith(("DECIMAL", "NUMERIC")):
        return upper.replace("DECIMAL", "numeric").replace("NUMERIC", "numeric")
    return _PG_TYPES.get(upper, "text")


def sqlite_type(duck_type: str) -> str:
    upper = duck_type.upper()
    if upper in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "BOOLEAN", "UINTEGER"):
        return "INTEGER"
    if upper in ("DOUBLE", "FLOAT"):
        return "REAL"
    # Decimals stay exact as text; dates and timestamps as ISO text (SQLite's convention).
    return "TEXT"


def sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class RetriedTableWriter:
    """``send``/``close`` shared by the table destinations.

    A batch is one transaction: a transient failure replays the whole batch on a fresh
    connection (``_attempt`` decides what is transient), and success accepts every record.
    """

    name: str
    _policy: Any
    _conn: Any

    def _attempt(self, batch: Any) -> None:
        raise NotImplementedError

    def send(self, batch: Any) -> Any:
        from tierwise.masking import mask
        from tierwise.publish.engine import AllAccepted
        from tierwise.publish.errors import DestinationUnavailableError
        from tierwise.publish.retry import RetriesExhaustedError, call_with_retries

        try:
            call_with_retries(lambda: self._attempt(batch), self._policy)
        except RetriesExhaustedError as error:
            raise DestinationUnavailableError(f"{self.name}: {mask(error)}") from error
        return AllAccepted(batch)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
