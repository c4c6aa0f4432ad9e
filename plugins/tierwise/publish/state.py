"""Sync state in the warehouse: ``ops.sync_state`` per record, ``ops.sync_runs`` per run,
``ops.sync_inflight`` per message in flight.

The diff runs in DuckDB so that a no-change re-run over a million customers is a hash
and an anti-join, not a million Python objects.

``ops.sync_inflight`` holds, for a destination that must not receive a record twice
(notifications), the one batch it is sending: noted (committed) before the send, removed
in the transaction that records the answer. A run killed in between leaves it there, and
the next run sends that very batch again first (same message, same idempotency key), so
that a receiver that honours the key drops it, rather than re-batching those records
into messages under new keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from tierwise.engine import table_exists, transaction
from tierwise.exceptions import PublishError

if TYPE_CHECKING:
    from tierwise.publish.engine import Batch, Record, RecordResult, Source
    from tierwise.publish.report import StreamReport

DELETE_KIND = "delete"
SENT, REJECTED, ABANDONED, DELETED = "sent", "rejected", "abandoned", "deleted"

DDL = """
create schema if not exists ops;
create table if not exists ops.sync_state (
    destination varchar not null,
    record_key varchar not null,
    last_sent_hash varchar,
    last_attempt_hash varchar,
    status varchar not null,
    attempts integer not null,
    last_error varchar,
    last_run_id varchar,
    updated_at timestamp not null,
    primary key (destination, record_key)
);
create table if not exists ops.sync_runs (
    run_id varchar not null,
    destination varchar not null,
    attempt integer not null,
    status varchar not null,
    started_at timestamp not null,
    finished_at timestamp,
    duration_s double,
    total bigint,
    new bigint,
    changed bigint,
    unchanged bigint,
    retried bigint,
    deleted bigint,
    sent bigint,
    rejected bigint,
    abandoned bigint,
    error varchar,
    primary key (run_id, destination, attempt)
);
create table if not exists ops.sync_inflight (
    destination varchar primary key,
    run_id varchar not null,
    started_at timestamp not null,
    batch json not null
);
"""

_EMPTY_STATE = (
    "(select null::varchar as record_key, null::varchar as last_sent_hash,"
    " null::varchar as last_attempt_hash, null::varchar as status, null::integer as attempts where false)"
)


def utcnow() -> datetime:
    """Naive UTC for TIMESTAMP columns (the warehouse stores no time zones)."""
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _hash_expr(hash_columns: Sequence[str]) -> str:
    if not hash_columns:
        # Immutable records (events, notifications): the key alone says whether it was sent.
        return "md5(record_key)"
    fields = ", ".join(f"'{name}': {quote(name)}" for name in hash_columns)
    return f"md5(to_json({{{fields}}}))"


def notified_keys(con: duckdb.DuckDBPyConnection) -> str:
    """A relation of the record keys destination ``$destination`` has accepted at some hash."""
    if table_exists(con, "ops", "sync_state"):
        return (
            "(select record_key from ops.sync_state "
            "where destination = $destination and last_sent_hash is not null)"
        )
    return "(select null::varchar as record_key where false)"


def _state_relation(con: duckdb.DuckDBPyConnection) -> str:
    # Dry runs open the warehouse read-only and may find no state table yet: diff
    # against an empty state instead of creating one.
    if table_exists(con, "ops", "sync_state"):
        return "(select * from ops.sync_state where destination = $destination)"
    return _EMPTY_STATE


def stage_source(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    columns = ", ".join(quote(name) for name in source.columns)
    con.execute(
        f"create or replace temp table _tw_src as select record_key::varchar as record_key, "
        f"{source.hash_sql or _hash_expr(source.hash_columns)} as record_hash, {columns} "
        f"from ({source.sql}) as src",
        dict(source.params) if isinstance(source.params, Mapping) else list(source.params),
    )
    row = con.execute(
        "select count(record_key) - count(distinct record_key), count(*) - count(record_key) from _tw_src"
    ).fetchone()
    if row and (row[0] or row[1]):
        raise PublishError(f"source has {row[0]} duplicate and {row[1]} null record keys: fix the mart")


def plan(
    con: duckdb.DuckDBPyConnection, source: Source, destination: str, supports_delete: bool, max_attempts: int
) -> dict[str, int]:
    """Classify every source record and every removed one; returns counts per kind."""
    stage_source(con, source)
    relation = _state_relation(con)
    params: dict[str, Any] = {"max_attempts": max_attempts}
    if "$destination" in relation:
        params["destination"] = destination
    con.execute(
        f"""
        create or replace temp table _tw_plan as
        select src.record_key, src.record_hash,
            case
                when st.last_sent_hash = src.record_hash then 'unchanged'
                when st.last_attempt_hash = src.record_hash and (st.status = 'abandoned'
                    or st.attempts >= $max_attempts) then 'abandoned'
                when st.last_attempt_hash = src.record_hash and st.status = 'rejected' then 'retry'
                when st.last_sent_hash is null then 'new'
                else 'changed'
            end as change,
            case when st.last_attempt_hash = src.record_hash then coalesce(st.attempts, 0) else 0 end
                as prior_attempts,
            st.record_key is not null as in_state
        from _tw_src as src
        left join {relation} as st on st.record_key = src.record_key
        """,
        params,
    )
    if supports_delete:
        _plan_deletes(con, relation, destination)
    rows = con.execute("select change, count(*) from _tw_plan group by change").fetchall()
    return {str(kind): int(count) for kind, count in rows}


def _plan_deletes(con: duckdb.DuckDBPyConnection, relation: str, destination: str) -> None:
    params = {"destination": destination} if "$destination" in relation else {}
    con.execute(
        f"""
        insert into _tw_plan
        select st.record_key, null, '{DELETE_KIND}', coalesce(st.attempts, 0), true
        from {relation} as st
        where st.status <> 'deleted' and st.last_sent_hash is not null
            and not (st.status = 'abandoned' and st.last_attempt_hash is null)
            and st.record_key not in (select record_key from _tw_src)
        """,
        params,
    )


def _source_types(con: duckdb.DuckDBPyConnection, columns: Sequence[str]) -> list[tuple[str, str]]:
    types = {str(row[0]): str(row[1]) for row in con.execute("describe _tw_src").fetchall()}
    return [(name, types[name]) for name in columns]


def _wire_column(name: str, kind: str) -> str:
    # Exact text for decimals and ISO text for dates: see engine.Record.
    if kind.upper() == "DATE" or kind.upper().startswith("DECIMAL"):
        return f"src.{quote(name)}::varchar as {quote(name)}"
    return f"src.{quote(name)}"


def stage_pending(con: duckdb.DuckDBPyConnection, source: Source, *, resync: bool) -> int:
    """Materialise what must be sent, numbered in key order so batches are deterministic."""
    kinds = ["new", "changed", "retry", DELETE_KIND] + (["unchanged", "abandoned"] if resync else [])
    columns = ", ".join(_wire_column(name, kind) for name, kind in _source_types(con, source.columns))
    # Ranked on the narrow plan first: sorting a million wide rows costs nearly twice as much.
    con.execute(
        f"""
        create or replace temp table _tw_pending as
        with ranked as (
            select row_number() over (order by record_key) as rn, record_key, record_hash, change,
                prior_attempts, in_state
            from _tw_plan
            where change in ({", ".join(f"'{kind}'" for kind in kinds)})
        )
        select plan.rn, plan.record_key, plan.record_hash,
            case when plan.change = '{DELETE_KIND}' then 'delete' else 'upsert' end as op,
            plan.prior_attempts, plan.in_state, {columns}
        from ranked as plan
        left join _tw_src as src on src.record_key = plan.record_key
        """
    )
    row = con.execute("select count(*) from _tw_pending").fetchone()
    return int(row[0]) if row else 0


def pending_rows(con: duckdb.DuckDBPyConnection, start: int, stop: int) -> list[tuple[Any, ...]]:
    return con.execute(
        "select * exclude (rn, in_state) from _tw_pending where rn > ? and rn <= ? order by rn", [start, stop]
    ).fetchall()


def diff_sample(con: duckdb.DuckDBPyConnection, per_kind: int) -> tuple[tuple[str, str], ...]:
    rows = con.execute(
        """
        select change, record_key from _tw_plan where change not in ('unchanged', 'abandoned')
        qualify row_number() over (partition by change order by record_key) <= ?
        order by change, record_key
        """,
        [per_kind],
    ).fetchall()
    return tuple((str(kind), str(key)) for kind, key in rows)


def pending_keys(con: duckdb.DuckDBPyConnection, start: int, stop: int, op: str) -> list[str]:
    sql = "select record_key from _tw_pending where rn > ? and rn <= ? and op = ? order by rn"
    rows = con.execute(sql, [start, stop, op]).fetchall()
    return [str(row[0]) for row in rows]


def count_pending(con: duckdb.DuckDBPyConnection, start: int, stop: int, op: str) -> int:
    row = con.execute(
        "select count(*) from _tw_pending where rn > ? and rn <= ? and op = ?", [start, stop, op]
    ).fetchone()
    return int(row[0]) if row else 0


def window_span(con: duckdb.DuckDBPyConnection, start: int, stop: int) -> int:
    """How many planned records, sent or not, lie between the window's first and last keys."""
    params = {"start": start, "stop": stop}
    in_window = "select count(*) from _tw_pending where rn > $start and rn <= $stop"
    row = con.execute(
        f"select (select count(*) from _tw_plan) = (select count(*) from _tw_pending), ({in_window})", params
    ).fetchone()
    if row and row[0]:
        # Every planned record is pending (a first publish, or an evaluation that moved every
        # row): ranks follow the keys, so the window's own records are all there is between
        # its first and last keys. Counting the plan's key range cost a second per batch at 10M.
        return int(row[1])
    row = con.execute(
        """
        select count(*) from _tw_plan
        where record_key >= (select min(record_key) from _tw_pending where rn > $start and rn <= $stop)
            and record_key <= (select max(record_key) from _tw_pending where rn > $start and rn <= $stop)
        """,
        params,
    ).fetchone()
    return int(row[0]) if row else 0


def record_results(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    rows: tuple[int, int],
    failures: Sequence[tuple[Record, RecordResult]],
    run_id: str,
    max_attempts: int,
) -> None:
    """Write one batch's outcome, atomically, right after the batch was sent.

    ``rows`` is the batch's rank range in ``_tw_pending``; every record of it not in
    ``failures`` was accepted. Both are written set-based inside DuckDB, so a million-row
    sync moves no state through Python. The destination's in-flight note (the batch just
    answered, see :func:`note_in_flight`) goes in the same transaction.
    """
    params = {"destination": destination, "run_id": run_id, "now": utcnow()}
    with transaction(con):
        if failures:
            _record_failures(con, params, failures, max_attempts)
        _record_successes(con, {**params, "start": rows[0], "stop": rows[1]}, [r.key for _, r in failures])
        clear_in_flight(con, destination)


# The accepted records of a batch: an in-place update of the rows ops.sync_state already
# holds (the plan knows which: ``in_state``), then an insert of the others. No lookup of
# the whole state table per batch, no index change for the updated rows.
_SENT_ROWS = """
    select record_key, record_hash, case when op = 'delete' then 'deleted' else 'sent' end as status
    from _tw_pending
    where rn > $start and rn <= $stop and in_state = $in_state
        and record_key not in (select unnest($failed::varchar[]))
"""


def _record_successes(con: duckdb.DuckDBPyConnection, params: dict[str, Any], failed: list[str]) -> None:
    con.execute(
        f"""
        update ops.sync_state as st
        set last_sent_hash = sent.record_hash, last_attempt_hash = sent.record_hash, status = sent.status,
            attempts = 0, last_error = null, last_run_id = $run_id, updated_at = $now
        from ({_SENT_ROWS}) as sent
        where st.destination = $destination and st.record_key = sent.record_key
        """,
        {**params, "failed": failed, "in_state": True},
    )
    con.execute(
        f"""
        insert into ops.sync_state
        select $destination, sent.record_key, sent.record_hash, sent.record_hash, sent.status, 0, null,
            $run_id, $now
        from ({_SENT_ROWS}) as sent
        """,
        {**params, "failed": failed, "in_state": False},
    )


def note_in_flight(con: duckdb.DuckDBPyConnection, destination: str, batch: Batch, run_id: str) -> None:
    """Commit ``batch`` as being sent, before it is: see the module docstring."""
    records = [[r.key, r.hash, r.op, r.prior_attempts, list(r.values)] for r in batch.records]
    payload = json.dumps({"columns": list(batch.columns), "records": records}, default=str)
    row = [destination, run_id, utcnow(), payload]
    con.execute("insert or replace into ops.sync_inflight values (?, ?, ?, ?)", row)


def clear_in_flight(con: duckdb.DuckDBPyConnection, destination: str) -> None:
    """The batch in flight was answered (or refused as a whole: nothing of it arrived)."""
    con.execute("delete from ops.sync_inflight where destination = ?", [destination])


InFlight = tuple[str, list[str], list[list[Any]]]


def in_flight(con: duckdb.DuckDBPyConnection, destination: str) -> InFlight | None:
    """The batch an earlier run left in flight: its run id, columns and records."""
    if not table_exists(con, "ops", "sync_inflight"):
        return None
    sql = "select run_id, batch from ops.sync_inflight where destination = ?"
    row = con.execute(sql, [destination]).fetchone()
    if row is None:
        return None
    batch = json.loads(row[1])
    return str(row[0]), list(batch["columns"]), list(batch["records"])


def record_resent(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    accepted: Sequence[Record],
    failures: Sequence[tuple[Record, RecordResult]],
    run_id: str,
    max_attempts: int,
) -> None:
    """:func:`record_results` for a batch given as records (the one an earlier run left in flight)."""
    params = {"destination": destination, "run_id": run_id, "now": utcnow()}
    with transaction(con):
        if failures:
            _record_failures(con, params, failures, max_attempts)
        if accepted:
            con.execute(
                """
                insert or replace into ops.sync_state
                select $destination, sent.record_key, sent.record_hash, sent.record_hash,
                    case when sent.op = 'delete' then 'deleted' else 'sent' end, 0, null, $run_id, $now
                from (
                    select unnest($keys::varchar[]) as record_key, unnest($hashes::varchar[]) as record_hash,
                        unnest($ops::varchar[]) as op
                ) as sent
                """,
                {
                    **params,
                    "keys": [record.key for record in accepted],
                    "hashes": [record.hash for record in accepted],
                    "ops": [record.op for record in accepted],
                },
            )
        clear_in_flight(con, destination)


def failure_status(permanent: bool, attempts: int, max_attempts: int) -> str:
    """A refused record is retried on later runs until ``max_attempts``, then abandoned."""
    return ABANDONED if permanent or attempts >= max_attempts else REJECTED


def _record_failures(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, Any],
    failures: Sequence[tuple[Record, RecordResult]],
    max_attempts: int,
) -> None:
    """One statement for all refused records; each keeps the hash the destination last accepted."""
    attempts = [record.prior_attempts + 1 for record, _ in failures]
    statuses = [
        failure_status(result.permanent, tries, max_attempts)
        for (_, result), tries in zip(failures, attempts, strict=True)
    ]
    con.execute(
        """
        insert or replace into ops.sync_state
        select $destination, failed.record_key, st.last_sent_hash, failed.record_hash, failed.status,
            failed.attempts, failed.last_error, $run_id, $now
        from (
            select unnest($keys::varchar[]) as record_key, unnest($hashes::varchar[]) as record_hash,
                unnest($statuses::varchar[]) as status, unnest($attempts::integer[]) as attempts,
                unnest($errors::varchar[]) as last_error
        ) as failed
        left join ops.sync_state as st on st.destination = $destination and st.record_key = failed.record_key
        """,
        {
            **params,
            "keys": [record.key for record, _ in failures],
            "hashes": [record.hash for record, _ in failures],
            "statuses": statuses,
            "attempts": attempts,
            "errors": [result.error for _, result in failures],
        },
    )


def settle_unchanged(con: duckdb.DuckDBPyConnection, destination: str) -> None:
    """Records whose data went back to what the destination holds are in sync again."""
    con.execute(
        """
        update ops.sync_state
        set status = 'sent', attempts = 0, last_error = null, last_attempt_hash = last_sent_hash
        where destination = ? and status <> 'sent'
            and record_key in (select record_key from _tw_plan where change = 'unchanged')
        """,
        [destination],
    )


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, destination: str) -> int:
    row = con.execute(
        "select coalesce(max(attempt), 0) + 1 from ops.sync_runs where run_id = ? and destination = ?",
        [run_id, destination],
    ).fetchone()
    attempt = int(row[0]) if row else 1
    con.execute(
        "insert into ops.sync_runs (run_id, destination, attempt, status, started_at) "
        "values (?, ?, ?, 'running', ?)",
        [run_id, destination, attempt, utcnow()],
    )
    return attempt


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: str, destination: str, attempt: int, report: StreamReport
) -> None:
    con.execute(
        """
        update ops.sync_runs set status = ?, finished_at = ?, duration_s = ?, total = ?, new = ?, changed = ?,
            unchanged = ?, retried = ?, deleted = ?, sent = ?, rejected = ?, abandoned = ?, error = ?
        where run_id = ? and destination = ? and attempt = ?
        """,
        [
            report.status,
            utcnow(),
            round(report.elapsed, 3),
            report.total,
            report.new,
            report.changed,
            report.unchanged,
            report.retried,
            report.deleted,
            report.sent,
            report.rejected,
            report.abandoned,
            report.error,
            run_id,
            destination,
            attempt,
        ],
    )
