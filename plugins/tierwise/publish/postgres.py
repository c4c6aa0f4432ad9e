"""Operational PostgreSQL: COPY into a temp stage, then set-based statements per batch.

Every batch is one transaction, so a dropped connection leaves either the whole batch or
none of it; the engine then retries the batch on a new connection, or the next run does.

What makes it fast (a million changed rows is the monthly case: as_of_date moves):

- DuckDB renders each batch as COPY text (:mod:`tierwise.publish.pgcopy`): no row becomes
  a Python object, and the engine renders the next batch while this one is written.
- The stage has the target's own column types, so COPY parses straight into them.
- Changed rows are one ``UPDATE ... FROM`` and new rows one ``INSERT ... WHERE NOT
  EXISTS``, both bounded to the batch's key range: batches are key ranges, so each reads
  only its slice of the primary key. (``INSERT ... ON CONFLICT DO UPDATE`` probes and
  locks every row, unchanged ones included; it took about twice the CPU.)
- Tables we create leave half of each page free (``fillfactor``), so that rewriting
  every row keeps each new version on its page: a HOT update adds no index entry.
- ``synchronous_commit`` stays on: a batch recorded as sent must survive a server crash,
  or the sync state would claim rows PostgreSQL lost; one flush per batch costs little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from tierwise.masking import get_logger, mask
from tierwise.publish.config import DatabaseConfig
from tierwise.publish.connections import Connection
from tierwise.publish.engine import Batch
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.pgcopy import copy_text
from tierwise.publish.retry import RetryableError, RetryPolicy
from tierwise.publish.state import window_span
from tierwise.publish.tables import UPSERT_TABLE, RetriedTableWriter, TableSpec, pg_type, quote

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


@dataclass(frozen=True)
class _Payload:
    """What one batch writes: its upserts (COPY text rendered by DuckDB, or the records'
    values for a batch built in Python), the keys it deletes, and whether its upserts are
    dense in their key range (most keys there change) or scattered through it."""

    upserts: int
    rows: str | list[tuple[Any, ...]]
    deletes: list[str]
    dense: bool = True


def _read(batch: Batch) -> _Payload:
    if batch.window is None:
        rows = [record.values for record in batch.upserts()]
        return _Payload(len(rows), rows, batch.delete_keys(), dense=False)
    window = batch.window
    count, text = copy_text(window.con, window.start, window.stop, batch.columns)
    # A batch covers a key range; when its rows are under half of the records there (a
    # small change, spread over the table), looking each key up beats reading the range.
    dense = count * 2 >= window_span(window.con, window.start, window.stop)
    return _Payload(count, text, batch.delete_keys(), dense)


class PostgresTable(RetriedTableWriter):
    """A Destination writing one :class:`TableSpec` into PostgreSQL."""

    supports_delete: bool
    resync_safe = True

    def __init__(
        self, connection: Connection, spec: TableSpec, config: DatabaseConfig, *, run_id: str
    ) -> None:
        self.spec = spec
        self.schema = config.schema
        self.batch_size = config.batch_size
        self.fillfactor = config.fillfactor
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

    def prepare(self, batch: Batch) -> None:
        """Read the batch from the warehouse now, so that ``send`` needs only PostgreSQL."""
        self._payload(batch)

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

    def current(self, keys: Sequence[str]) -> dict[str, dict[str, Any]] | None:
        """What the table holds for ``keys`` (a dry run's old values); nothing created."""
        if not keys:
            return {}
        names = list(self.spec.names)
        sql = (
            f"select {', '.join(quote(name) for name in names)} from {self.target} "
            f"where {quote(self.spec.key)}::text = any(%s)"
        )
        try:
            with psycopg.connect(**self._params, autocommit=True) as conn:
                rows = conn.execute(sql, [list(keys)]).fetchall()
        except psycopg.errors.UndefinedTable:
            return {}  # never published here: every record is new
        except psycopg.Error as error:
            log.warning("%s: cannot read back the current rows for the dry run: %s", self.name, mask(error))
            return None
        index = names.index(self.spec.key)
        return {str(row[index]): dict(zip(names, row, strict=True)) for row in rows}

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(**self._params, autocommit=True)
            self._ensure_table(self._conn)
        return self._conn

    def _ensure_table(self, conn: psycopg.Connection[Any]) -> None:
        columns = ", ".join(f"{quote(name)} {pg_type(kind)}" for name, kind in self.spec.columns)
        key = quote(self.spec.key)
        with conn.transaction():
            conn.execute(f"create schema if not exists {quote(self.schema)}")
            conn.execute(
                f"create table if not exists {self.target} ({columns}, _run_id text, "
                f"_synced_at timestamptz not null default now(), primary key ({key})){self._storage()}"
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
                    f"{self.spec.added(name)}"
                )
            self._create_stage(conn)

    def _storage(self) -> str:
        # Upserted tables are rewritten row by row (as_of_date changes every evaluation):
        # free space in each page lets an update stay on its page. The outbox mostly grows
        # (only a re-evaluation rewrites some of its rows).
        return f" with (fillfactor = {int(self.fillfactor)})" if self.spec.mode == UPSERT_TABLE else ""

    def _create_stage(self, conn: psycopg.Connection[Any]) -> None:
        # The stage takes the target's own column types (a table made by hand may differ
        # from ours): COPY parses straight into them and the merge compares like with like.
        names = ", ".join(quote(name) for name in self.spec.names)
        conn.execute("drop table if exists pg_temp._tw_stage")
        conn.execute(
            f"create temp table _tw_stage on commit delete rows as "
            f"select {names} from {self.target} with no data"
        )

    def _payload(self, batch: Batch) -> _Payload:
        payload = batch.prepared.get(self.name)
        if payload is None:
            payload = batch.prepared[self.name] = _read(batch)
        return payload

    def _apply(self, batch: Batch) -> None:
        payload = self._payload(batch)
        conn = self._connect()
        applied = 0
        with conn.transaction():
            if payload.upserts:
                self._stage(conn, batch.columns, payload.rows)
                if not payload.dense:
                    # Scattered keys: one index lookup per staged row, not a scan of the range.
                    conn.execute("set local enable_hashjoin = off")
                    conn.execute("set local enable_mergejoin = off")
                applied += self._merge(conn)
            if payload.deletes:
                cursor = conn.execute(
                    f"delete from {self.target} where {quote(self.spec.key)} = any(%s)", [payload.deletes]
                )
                applied += cursor.rowcount
        self.applied += applied  # counted once committed: a replayed batch is not counted twice

    def _stage(
        self, conn: psycopg.Connection[Any], columns: Sequence[str], rows: str | list[tuple[Any, ...]]
    ) -> None:
        names = ", ".join(quote(name) for name in columns)
        with conn.cursor() as cursor, cursor.copy(f"copy _tw_stage ({names}) from stdin") as copy:
            if isinstance(rows, str):
                copy.write(rows)
                return
            for row in rows:
                copy.write_row(row)

    def _merge(self, conn: psycopg.Connection[Any]) -> int:
        names = ", ".join(quote(name) for name in self.spec.names)
        key = quote(self.spec.key)
        head = f"insert into {self.target} ({names}, _run_id) select {names}, %s from _tw_stage as stage"
        if not self.spec.non_key:
            # Nothing but the key: a row already there is left alone, whoever wrote it.
            return conn.execute(f"{head} on conflict ({key}) do nothing", [self.run_id]).rowcount
        # Batches are key ranges: bounds (taken by PostgreSQL, in its own collation) let it
        # read only the batch's slice of the primary key instead of the whole table.
        row = conn.execute(f"select count(*), min({key}), max({key}) from _tw_stage").fetchone()
        staged, *bounds = row if row else (0, None, None)
        updated = conn.execute(self._update_sql(), [self.run_id, *bounds]).rowcount
        if updated == staged:  # every row was there and changed: nothing is new
            return updated
        # What the update did not find is new. A plain insert: a row another writer added
        # meanwhile is a key conflict, the batch is split and retried, and the update wins.
        missing = f"not exists (select from {self.target} as target where {self._matches()})"
        return updated + conn.execute(f"{head} where {missing}", [self.run_id, *bounds]).rowcount

    def _matches(self) -> str:
        """``target`` rows with a key of ``stage``, within the bounds given as parameters."""
        key = quote(self.spec.key)
        return f"target.{key} = stage.{key} and target.{key} >= %s and target.{key} <= %s"

    def _update_sql(self) -> str:
        updates = ", ".join(f"{quote(name)} = stage.{quote(name)}" for name in self.spec.non_key)
        old = ", ".join(f"target.{quote(name)}" for name in self.spec.non_key)
        new = ", ".join(f"stage.{quote(name)}" for name in self.spec.non_key)
        # Only rows whose data differ are rewritten: no dead tuples, no trigger noise.
        return (
            f"update {self.target} as target set {updates}, _run_id = %s, _synced_at = now() "
            f"from _tw_stage as stage where {self._matches()} and row({old}) is distinct from row({new})"
        )
