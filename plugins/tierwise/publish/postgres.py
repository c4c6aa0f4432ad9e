"""Operational PostgreSQL: COPY into a temp stage, then one upsert or insert per batch.

Every batch is one transaction, so a dropped connection leaves either the whole batch or
none of it; the engine then retries the batch on a new connection, or the next run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from tierwise.masking import get_logger, mask
from tierwise.publish.config import DatabaseConfig
from tierwise.publish.connections import Connection
from tierwise.publish.engine import Batch, RecordResult
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.retry import RetriesExhaustedError, RetryableError, RetryPolicy, call_with_retries
from tierwise.publish.tables import APPEND_TABLE, UPSERT_TABLE, TableSpec, pg_type, quote

log = get_logger(__name__)

_CONNINFO_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options", "target_session_attrs")


def conninfo(connection: Connection, config: DatabaseConfig) -> dict[str, Any]:
    params: dict[str, Any] = {
        "host": connection.host or "localhost",
        "port": connection.port or 5432,
        "user": connection.login,
        "password": connection.password,
        "dbname": connection.schema or "postgres",
        "connect_timeout": config.connect_timeout,
        "application_name": "tierwise-publish",
    }
    params.update({key: connection.extra[key] for key in _CONNINFO_EXTRAS if key in connection.extra})
    return {key: value for key, value in params.items() if value is not None}


class PostgresTable:
    """A Destination writing one :class:`TableSpec` into PostgreSQL."""

    supports_delete: bool
    resync_safe = True

    def __init__(
        self, connection: Connection, spec: TableSpec, config: DatabaseConfig, *, run_id: str
    ) -> None:
        self.spec = spec
        self.schema = config.schema
        self.batch_size = config.batch_size
        self.run_id = run_id
        self.name = f"database.{spec.name}@{connection.describe()}"
        self.supports_delete = spec.mode == UPSERT_TABLE
        self.applied = 0  # rows inserted, changed or deleted in PostgreSQL
        self._params = conninfo(connection, config)
        self._policy = RetryPolicy(max_retries=config.max_retries, base_delay=config.retry_base_delay)
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def target(self) -> str:
        return f"{quote(self.schema)}.{quote(self.spec.name)}"

    def send(self, batch: Batch) -> Sequence[RecordResult]:
        try:
            call_with_retries(lambda: self._attempt(batch), self._policy)
        except RetriesExhaustedError as error:
            raise DestinationUnavailableError(f"{self.name}: {mask(error)}") from error
        return [RecordResult(record.key, ok=True) for record in batch.records]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _attempt(self, batch: Batch) -> None:
        try:
            self._apply(batch)
        except (psycopg.DataError, psycopg.IntegrityError) as error:
            raise BatchRejectedError(mask(error)) from error
        except psycopg.OperationalError as error:
            # Connection lost (server restart, network, pg_terminate_backend): the open
            # transaction died with it, so a fresh connection can replay the whole batch.
            log.warning("%s: connection lost, retrying the batch: %s", self.name, mask(error))
            self.close()
            raise RetryableError(mask(error)) from error
        except psycopg.Error as error:
            # Schema or permission problems: no batch will get through, stop this destination.
            raise DestinationUnavailableError(
                f"{self.name}: {type(error).__name__}: {mask(error)}"
            ) from error

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(**self._params, autocommit=True)
            self._ensure_table(self._conn)
        return self._conn

    def _ensure_table(self, conn: psycopg.Connection[Any]) -> None:
        columns = ", ".join(f"{quote(name)} {pg_type(kind)}" for name, kind in self.spec.columns)
        with conn.transaction():
            conn.execute(f"create schema if not exists {quote(self.schema)}")
            conn.execute(
                f"create table if not exists {self.target} ({columns}, _run_id text, "
                f"_synced_at timestamptz not null default now(), primary key ({quote(self.spec.key)}))"
            )
            # The mart may gain columns between releases (and a table made by hand may lack
            # our bookkeeping columns): add what is missing, never drop anything.
            conn.execute(f"alter table {self.target} add column if not exists _run_id text")
            conn.execute(
                f"alter table {self.target} add column if not exists "
                "_synced_at timestamptz not null default now()"
            )
            for name, kind in self.spec.columns:
                conn.execute(
                    f"alter table {self.target} add column if not exists {quote(name)} {pg_type(kind)}"
                )

    def _apply(self, batch: Batch) -> None:
        conn = self._connect()
        with conn.transaction():
            upserts, deletes = batch.upserts(), batch.deletes()
            if upserts:
                self._stage(conn, batch.columns, [record.values for record in upserts])
                self.applied += self._merge(conn)
            if deletes:
                cursor = conn.execute(
                    f"delete from {self.target} where {quote(self.spec.key)} = any(%s)",
                    [[record.key for record in deletes]],
                )
                self.applied += cursor.rowcount

    def _stage(
        self, conn: psycopg.Connection[Any], columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        names = ", ".join(quote(name) for name in columns)
        types = ", ".join(f"{quote(name)} {pg_type(kind)}" for name, kind in self.spec.columns)
        conn.execute(f"create temp table if not exists _tw_stage ({types}) on commit delete rows")
        with conn.cursor() as cursor, cursor.copy(f"copy _tw_stage ({names}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)

    def _merge(self, conn: psycopg.Connection[Any]) -> int:
        names = ", ".join(quote(name) for name in self.spec.names)
        key = quote(self.spec.key)
        head = f"insert into {self.target} as t ({names}, _run_id) select {names}, %s from _tw_stage"
        if self.spec.mode == APPEND_TABLE or not self.spec.non_key:
            return conn.execute(f"{head} on conflict ({key}) do nothing", [self.run_id]).rowcount
        updates = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in self.spec.non_key)
        old = ", ".join(f"t.{quote(name)}" for name in self.spec.non_key)
        new = ", ".join(f"excluded.{quote(name)}" for name in self.spec.non_key)
        # Only rows whose data differ are rewritten: no dead tuples, no trigger noise.
        sql = (
            f"{head} on conflict ({key}) do update set {updates}, "
            "_run_id = excluded._run_id, _synced_at = now() "
            f"where row({old}) is distinct from row({new})"
        )
        return conn.execute(sql, [self.run_id]).rowcount
