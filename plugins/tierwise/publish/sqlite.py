"""The local operational database of the demo: the same tables in a SQLite file.

Used when no ``tierwise_postgres`` connection is configured, with the same semantics:
one transaction per batch, upsert only changed rows, an outbox whose rows are revised or
retracted, never deleted.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tierwise.masking import mask
from tierwise.publish.config import DatabaseConfig
from tierwise.publish.engine import Batch
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.retry import RetryableError, RetryPolicy
from tierwise.publish.tables import (
    UPSERT_TABLE,
    RetriedTableWriter,
    TableSpec,
    quote,
    sqlite_type,
    sqlite_value,
)


class SqliteTable(RetriedTableWriter):
    """A Destination writing one :class:`TableSpec` into a SQLite file."""

    supports_delete: bool
    resync_safe = True

    def __init__(self, path: Path, spec: TableSpec, config: DatabaseConfig, *, run_id: str) -> None:
        self.path = path
        self.spec = spec
        self.batch_size = config.batch_size
        self.run_id = run_id
        self.name = f"database.{spec.name}@sqlite:{path.name}"
        self.supports_delete = spec.mode == UPSERT_TABLE
        self.applied = 0
        self._policy = RetryPolicy(max_retries=config.max_retries, base_delay=config.retry_base_delay)
        self._conn: sqlite3.Connection | None = None

    def _attempt(self, batch: Batch) -> None:
        try:
            self._apply(batch)
        except sqlite3.IntegrityError as error:
            raise BatchRejectedError(mask(error)) from error
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise DestinationUnavailableError(f"{self.name}: {mask(error)}") from error
            # The file is locked by a reader or another writer: worth another try.
            raise RetryableError(mask(error)) from error

    def current(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the file holds for ``keys`` (a dry run's old values); read-only, nothing created."""
        if not keys or not self.path.is_file():
            return {}
        names = list(self.spec.names)
        marks = ", ".join("?" * len(keys))
        sql = (
            f"select {', '.join(quote(name) for name in names)} from {quote(self.spec.name)} "
            f"where {quote(self.spec.key)} in ({marks})"
        )
        with contextlib.closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)) as conn:
            try:
                rows = conn.execute(sql, list(keys)).fetchall()
            except sqlite3.OperationalError:
                return {}  # no such table (yet), or a column the mart gained since: nothing to compare
        index = names.index(self.spec.key)
        return {str(row[index]): dict(zip(names, row, strict=True)) for row in rows}

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one per batch.
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._conn.execute("pragma journal_mode = wal")
            self._ensure_table(self._conn)
        return self._conn

    def _ensure_table(self, conn: sqlite3.Connection) -> None:
        columns = ", ".join(f"{quote(name)} {sqlite_type(kind)}" for name, kind in self.spec.columns)
        conn.execute(
            f"create table if not exists {quote(self.spec.name)} ({columns}, _run_id text, _synced_at text, "
            f"primary key ({quote(self.spec.key)}))"
        )
        present = {row[1] for row in conn.execute(f"pragma table_info({quote(self.spec.name)})")}
        for name, kind in self.spec.columns:
            if name not in present:
                conn.execute(
                    f"alter table {quote(self.spec.name)} add column {quote(name)} {sqlite_type(kind)}"
                    f"{self.spec.added(name)}"
                )

    def _apply(self, batch: Batch) -> None:
        conn = self._connect()
        conn.execute("begin immediate")
        try:
            self._write(conn, batch)
        except BaseException:
            conn.execute("rollback")
            raise
        conn.execute("commit")

    def _write(self, conn: sqlite3.Connection, batch: Batch) -> None:
        positions = [batch.columns.index(name) for name in self.spec.names]
        rows = [
            [sqlite_value(record.values[i]) for i in positions] + [self.run_id] for record in batch.upserts()
        ]
        before = conn.total_changes
        if rows:
            conn.executemany(self._upsert_sql(), rows)
        deletes = [(record.key,) for record in batch.deletes()]
        if deletes:
            conn.executemany(f"delete from {quote(self.spec.name)} where {quote(self.spec.key)} = ?", deletes)
        self.applied += conn.total_changes - before

    def _upsert_sql(self) -> str:
        table, key = quote(self.spec.name), quote(self.spec.key)
        names = ", ".join(quote(name) for name in self.spec.names)
        marks = ", ".join("?" for _ in self.spec.names)
        head = (
            f"insert into {table} ({names}, _run_id, _synced_at) "
            f"values ({marks}, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
        )
        if not self.spec.non_key:
            return f"{head} on conflict ({key}) do nothing"
        updates = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in self.spec.non_key)
        changed = " or ".join(
            f"{table}.{quote(name)} is not excluded.{quote(name)}" for name in self.spec.non_key
        )
        return (
            f"{head} on conflict ({key}) do update set {updates}, _run_id = excluded._run_id, "
            f"_synced_at = excluded._synced_at where {changed}"
        )
