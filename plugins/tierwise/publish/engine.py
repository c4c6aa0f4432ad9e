"""The sync engine every record destination shares.

A :class:`Source` is a query over the warehouse; a :class:`Destination` receives batches
and answers per record. The engine hashes the published columns, compares them with
``ops.sync_state``, sends only what is new, changed, due for a retry or removed, and
records each batch's outcome right after the batch so that a crash loses nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import duckdb

from tierwise.masking import get_logger, mask
from tierwise.publish import state
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.report import StreamReport

log = get_logger(__name__)

UPSERT = "upsert"
DELETE = "delete"
_PROGRESS_EVERY = 10.0


class Record(NamedTuple):
    """One record to send. A named tuple, not a dataclass: a million of them are built per
    full sync, and tuple construction is several times cheaper.

    ``values`` follow ``Batch.columns``; DECIMAL and DATE values arrive as exact strings
    (``'12.50'``, ``'2024-01-31'``), which every destination sends as text anyway, while
    converting them to Python objects cost more than the rest of a database sync.
    """

    key: str
    hash: str | None
    values: tuple[Any, ...]  # all None for deletes
    op: str = UPSERT
    prior_attempts: int = 0


@dataclass(frozen=True)
class Batch:
    columns: tuple[str, ...]
    records: tuple[Record, ...]

    def __len__(self) -> int:
        return len(self.records)

    def upserts(self) -> list[Record]:
        return [record for record in self.records if record.op == UPSERT]

    def deletes(self) -> list[Record]:
        return [record for record in self.records if record.op == DELETE]

    def as_dict(self, record: Record) -> dict[str, Any]:
        return dict(zip(self.columns, record.values, strict=True))

    def split(self) -> tuple[Batch, Batch]:
        middle = len(self.records) // 2
        return Batch(self.columns, self.records[:middle]), Batch(self.columns, self.records[middle:])


class RecordResult(NamedTuple):
    """What the destination did with one record (a named tuple for the same reason as Record)."""

    key: str
    ok: bool
    error: str | None = None
    permanent: bool = False  # retrying the same data cannot help (no usable identifier...)


class Destination(Protocol):
    """Where records go. ``name`` keys the sync state, so it names the target too."""

    name: str
    batch_size: int
    supports_delete: bool  # removed records are deleted there (tables), or left alone (CRM)
    resync_safe: bool  # a full resync may resend everything (False for notifications)

    def send(self, batch: Batch) -> Sequence[RecordResult]:
        """Deliver one batch; raise BatchRejectedError or DestinationUnavailableError for the whole batch."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Source:
    """``sql`` selects ``record_key`` then ``columns``; a change in ``hash_columns`` means resend."""

    sql: str
    columns: tuple[str, ...]
    hash_columns: tuple[str, ...]
    params: tuple[Any, ...] | Mapping[str, Any] = ()


@dataclass(frozen=True)
class SyncOptions:
    run_id: str
    dry_run: bool = False
    full_resync: bool = False
    max_attempts: int = 3
    diff_sample: int = 20


@dataclass
class _Tally:
    sent: int = 0
    rejected: int = 0
    abandoned: int = 0
    deleted: int = 0
    batches: int = 0
    last_log: float = field(default_factory=time.perf_counter)


def send_isolating(destination: Destination, batch: Batch) -> list[RecordResult]:
    """Send ``batch``; when it is rejected as a whole, halve it until the bad records stand alone."""
    try:
        return list(destination.send(batch))
    except BatchRejectedError as error:
        if len(batch) == 1:
            return [RecordResult(batch.records[0].key, ok=False, error=mask(error))]
        left, right = batch.split()
        return send_isolating(destination, left) + send_isolating(destination, right)


def sync(
    con: duckdb.DuckDBPyConnection, source: Source, destination: Destination, options: SyncOptions
) -> StreamReport:
    """Bring ``destination`` in line with ``source``; returns what was planned and done."""
    started = time.perf_counter()
    resync = options.full_resync and destination.resync_safe
    if options.full_resync and not resync:
        log.info("%s: full resync ignored, this destination must not receive records twice", destination.name)
    plan = state.plan(con, source, destination.name, destination.supports_delete, options.max_attempts)
    pending = state.stage_pending(con, source, resync=resync)
    if options.dry_run:
        diff = state.diff_sample(con, options.diff_sample)
        return _report(destination, plan, started, status="dry_run", diff=diff)
    attempt = state.start_run(con, options.run_id, destination.name)
    tally = _Tally()
    try:
        _send_all(con, source, destination, options, pending, tally)
        state.settle_unchanged(con, destination.name)
    except DestinationUnavailableError as error:
        report = _report(destination, plan, started, status="failed", tally=tally, error=mask(error))
        state.finish_run(con, options.run_id, destination.name, attempt, report)
        return report
    except BaseException as error:
        # A crash (or kill) between batches: the batches already sent are recorded; mark
        # the run so that nobody reads its counts as complete, then let the error go on.
        crashed = _report(destination, plan, started, status="failed", tally=tally, error=mask(repr(error)))
        with contextlib.suppress(duckdb.Error):
            state.finish_run(con, options.run_id, destination.name, attempt, crashed)
        raise
    report = _report(destination, plan, started, status="ok", tally=tally)
    state.finish_run(con, options.run_id, destination.name, attempt, report)
    return report


def _send_all(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    destination: Destination,
    options: SyncOptions,
    pending: int,
    tally: _Tally,
) -> None:
    for start in range(0, pending, destination.batch_size):
        stop = start + destination.batch_size
        batch = _batch(con, source.columns, start, stop)
        results = _complete(batch, send_isolating(destination, batch))
        state.record_results(
            con, destination.name, (start, stop), batch, results, options.run_id, options.max_attempts
        )
        _count(tally, batch, results, options.max_attempts)
        _log_progress(destination.name, tally, pending)


def _batch(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...], start: int, stop: int) -> Batch:
    rows = state.pending_rows(con, start, stop)
    records = tuple(Record(row[0], row[1], row[4:], row[2], row[3]) for row in rows)
    return Batch(columns, records)


def _complete(batch: Batch, results: Sequence[RecordResult]) -> list[RecordResult]:
    """One result per record, in batch order; a record the destination did not answer for failed."""
    by_key = {result.key: result for result in results}
    missing = RecordResult("", ok=False, error="the destination returned no result for this record")
    return [by_key.get(record.key) or missing._replace(key=record.key) for record in batch.records]


def _count(tally: _Tally, batch: Batch, results: Sequence[RecordResult], max_attempts: int) -> None:
    ops = {record.key: record for record in batch.records}
    tally.batches += 1
    for result in results:
        record = ops[result.key]
        if result.ok:
            tally.sent += 1
            tally.deleted += record.op == DELETE
            continue
        tally.rejected += 1
        status = state.failure_status(result.permanent, record.prior_attempts + 1, max_attempts)
        tally.abandoned += status == state.ABANDONED


def _log_progress(name: str, tally: _Tally, pending: int) -> None:
    now = time.perf_counter()
    if now - tally.last_log >= _PROGRESS_EVERY:
        tally.last_log = now
        log.info("%s: %d/%d records sent or rejected", name, tally.sent + tally.rejected, pending)


def _report(
    destination: Destination,
    plan: dict[str, int],
    started: float,
    *,
    status: str,
    tally: _Tally | None = None,
    error: str | None = None,
    diff: tuple[tuple[str, str], ...] = (),
) -> StreamReport:
    done = tally or _Tally()
    return StreamReport(
        destination=destination.name.split(".", 1)[0],
        stream=destination.name,
        status=status,
        total=sum(count for kind, count in plan.items() if kind != state.DELETE_KIND),
        new=plan.get("new", 0),
        changed=plan.get("changed", 0),
        unchanged=plan.get("unchanged", 0),
        retried=plan.get("retry", 0),
        deleted=plan.get(state.DELETE_KIND, 0) if status == "dry_run" else done.deleted,
        sent=done.sent,
        rejected=done.rejected,
        abandoned=done.abandoned,
        applied=getattr(destination, "applied", None),
        elapsed=time.perf_counter() - started,
        error=error,
        diff=diff,
    )
