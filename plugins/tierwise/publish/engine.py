"""The sync engine every record destination shares.

A :class:`Source` is a query over the warehouse; a :class:`Destination` receives batches
and answers per record. The engine hashes the published columns, compares them with
``ops.sync_state``, sends only what is new, changed, due for a retry or removed, and
records each batch's outcome right after the batch so that a crash loses nothing (or,
for a destination that may receive a batch twice, a few batches at a time: a crash then
costs a resend that writes nothing new).

A destination that must not receive a batch twice (``resync_safe`` false: messages to
people) gets each batch noted in flight before it is sent (:func:`state.note_in_flight`);
the note goes with the answer's record. A run killed in between leaves the note, and the
next run sends that batch again, unchanged and first: a receiver that honours the
idempotency key drops it, one that does not shows that one message twice.

Batches stay in DuckDB until a destination reads them: bulk destinations (PostgreSQL)
take them as COPY text and answer :class:`AllAccepted`, so their state is saved in one
statement per batch and no row becomes a Python object; a :class:`Preparing` destination
writes one batch on a worker thread while the engine records the previous one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol, overload, runtime_checkable

import duckdb

from tierwise.masking import get_logger, mask
from tierwise.publish import fielddiff, state
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.report import StreamReport

log = get_logger(__name__)

UPSERT = "upsert"
DELETE = "delete"
_PROGRESS_EVERY = 10.0


class Record(NamedTuple):
    """One record to send. A named tuple, not a dataclass: record destinations (SQLite, CRM,
    notifications) build one per row, and tuple construction is several times cheaper.

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
class Window:
    """Ranks ``start < rn <= stop`` of the pending table: a batch still in DuckDB."""

    con: duckdb.DuckDBPyConnection
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start

    def halves(self) -> tuple[Window, Window]:
        middle = self.start + len(self) // 2
        return replace(self, stop=middle), replace(self, start=middle)


class Batch:
    """The records of one send.

    The engine hands out batches backed by a :class:`Window`: their rows stay in DuckDB
    until a destination reads ``records``. Bulk destinations (PostgreSQL COPY) read the
    window instead, so a million-row sync builds no per-record Python objects.
    ``prepared`` holds what a :class:`Preparing` destination read from the warehouse.
    """

    def __init__(
        self,
        columns: Sequence[str],
        records: Sequence[Record] | None = None,
        *,
        window: Window | None = None,
    ) -> None:
        if records is None and window is None:
            raise ValueError("a batch needs records or a window")
        self.columns = tuple(columns)
        self.window = window
        self.prepared: dict[str, Any] = {}
        self._records = None if records is None else tuple(records)

    @property
    def records(self) -> tuple[Record, ...]:
        if self._records is None:
            assert self.window is not None  # one of the two is always set
            rows = state.pending_rows(self.window.con, self.window.start, self.window.stop)
            self._records = tuple(Record(row[0], row[1], row[4:], row[2], row[3]) for row in rows)
        return self._records

    def __len__(self) -> int:
        if self._records is None and self.window is not None:
            return len(self.window)
        return len(self.records)

    def upserts(self) -> list[Record]:
        return [record for record in self.records if record.op == UPSERT]

    def deletes(self) -> list[Record]:
        return [record for record in self.records if record.op == DELETE]

    def delete_keys(self) -> list[str]:
        if self._records is None and self.window is not None:
            return state.pending_keys(self.window.con, self.window.start, self.window.stop, DELETE)
        return [record.key for record in self.deletes()]

    def as_dict(self, record: Record) -> dict[str, Any]:
        return dict(zip(self.columns, record.values, strict=True))

    def split(self) -> tuple[Batch, Batch]:
        middle = len(self) // 2
        windows = self.window.halves() if self.window is not None else (None, None)
        loaded = self._records
        left = None if loaded is None else loaded[:middle]
        right = None if loaded is None else loaded[middle:]
        return Batch(self.columns, left, window=windows[0]), Batch(self.columns, right, window=windows[1])


class RecordResult(NamedTuple):
    """What the destination did with one record (a named tuple for the same reason as Record)."""

    key: str
    ok: bool
    error: str | None = None
    permanent: bool = False  # retrying the same data cannot help (no usable identifier...)


class AllAccepted(Sequence[RecordResult]):
    """What a destination returns when it took every record of ``batch``.

    The engine then saves the batch's state in one statement without building a result
    per record; iterating it still yields one ``RecordResult(key, ok=True)`` per record.
    """

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._results: list[RecordResult] | None = None

    def __len__(self) -> int:
        return len(self.batch)

    @overload
    def __getitem__(self, index: int) -> RecordResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RecordResult]: ...

    def __getitem__(self, index: int | slice) -> RecordResult | Sequence[RecordResult]:
        if self._results is None:
            self._results = [RecordResult(record.key, ok=True) for record in self.batch.records]
        return self._results[index]


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


@runtime_checkable
class Preparing(Protocol):
    """A destination whose ``send`` can run on a worker thread once ``prepare`` has read
    the batch from the warehouse (DuckDB is only used from the engine's thread). The
    engine then prepares and records one batch while the destination writes the previous
    one; each batch is still sent, committed and recorded before the one after next.
    """

    def prepare(self, batch: Batch) -> None: ...


@dataclass(frozen=True)
class Source:
    """``sql`` selects ``record_key`` then ``columns``; a change in ``hash_columns`` means resend.

    ``hash_sql``, when given, replaces the hash of ``hash_columns``: an SQL expression over
    the selected columns that changes exactly when the record must be sent again.
    """

    sql: str
    columns: tuple[str, ...]
    hash_columns: tuple[str, ...]
    params: tuple[Any, ...] | Mapping[str, Any] = ()
    hash_sql: str | None = None


@dataclass(frozen=True)
class SyncOptions:
    run_id: str
    dry_run: bool = False
    full_resync: bool = False
    max_attempts: int = 3
    diff_sample: int = 20
    field_sample: int = 5
    """Records per stream whose changed fields a dry run shows (:mod:`tierwise.publish.fielddiff`)."""


@dataclass
class _Tally:
    sent: int = 0
    rejected: int = 0
    abandoned: int = 0
    deleted: int = 0
    batches: int = 0
    last_log: float = field(default_factory=time.perf_counter)


def send_isolating(destination: Destination, batch: Batch) -> Sequence[RecordResult]:
    """Send ``batch``; when it is rejected as a whole, halve it until the bad records stand alone."""
    try:
        return _listed(destination.send(batch))
    except BatchRejectedError as error:
        return _isolate(destination, batch, error)


def _isolate(destination: Destination, batch: Batch, error: BatchRejectedError) -> list[RecordResult]:
    if len(batch) == 1:
        return [RecordResult(batch.records[0].key, ok=False, error=mask(error))]
    left, right = batch.split()
    return [*send_isolating(destination, left), *send_isolating(destination, right)]


def _listed(results: Sequence[RecordResult]) -> Sequence[RecordResult]:
    return results if isinstance(results, AllAccepted) else list(results)


def sync(
    con: duckdb.DuckDBPyConnection, source: Source, destination: Destination, options: SyncOptions
) -> StreamReport:
    """Bring ``destination`` in line with ``source``; returns what was planned and done."""
    started = time.perf_counter()
    resync = options.full_resync and destination.resync_safe
    if options.full_resync and not resync:
        log.info("%s: full resync ignored, this destination must not receive records twice", destination.name)
    if options.dry_run:
        planned = _plan(con, source, destination, options)
        state.stage_pending(con, source, resync=resync)
        diff = state.diff_sample(con, options.diff_sample)
        sample = fielddiff.sample_keys(diff, options.field_sample)
        fields = fielddiff.field_diffs(con, sample, source.columns, destination)
        return _report(destination, planned, started, status="dry_run", diff=diff, fields=fields)
    attempt = state.start_run(con, options.run_id, destination.name)
    tally = _Tally()
    plan: dict[str, int] = {}
    try:
        # Before planning: what it delivers must be planned as sent.
        _resend_in_flight(con, destination, options, tally)
        plan.update(_plan(con, source, destination, options))
        pending = state.stage_pending(con, source, resync=resync)
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


def _plan(
    con: duckdb.DuckDBPyConnection, source: Source, destination: Destination, options: SyncOptions
) -> dict[str, int]:
    return state.plan(con, source, destination.name, destination.supports_delete, options.max_attempts)


def _send_all(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    destination: Destination,
    options: SyncOptions,
    pending: int,
    tally: _Tally,
) -> None:
    batches = (
        Batch(source.columns, window=Window(con, start, min(start + destination.batch_size, pending)))
        for start in range(0, pending, destination.batch_size)
    )
    if isinstance(destination, Preparing):
        _send_overlapped(con, destination, batches, options, (pending, tally))
        return
    for batch in batches:
        if destination.resync_safe:
            _settle(con, destination, batch, send_isolating(destination, batch), options, (pending, tally))
        else:
            _send_noted(con, destination, batch, options, (pending, tally))


def _send_noted(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    batch: Batch,
    options: SyncOptions,
    progress: tuple[int, _Tally],
) -> None:
    """Send one batch to a destination that must not receive it twice, noted in flight first.

    Each batch (each half of a refused one too) is noted before it goes and recorded right
    after its answer, so at most this one batch is in doubt when the run dies.
    """
    state.note_in_flight(con, destination.name, batch, options.run_id)
    try:
        results = _listed(destination.send(batch))
    except BatchRejectedError as error:
        state.clear_in_flight(con, destination.name)  # refused as a whole: nothing arrived
        if len(batch) > 1:
            for half in batch.split():
                _send_noted(con, destination, half, options, progress)
            return
        results = [RecordResult(batch.records[0].key, ok=False, error=mask(error))]
    _settle(con, destination, batch, results, options, progress)


def _resend_in_flight(
    con: duckdb.DuckDBPyConnection, destination: Destination, options: SyncOptions, tally: _Tally
) -> None:
    """Send again, unchanged, the batch an earlier run left in flight (see :mod:`state`).

    It may have arrived: the same batch gives the same message and idempotency key, which a
    receiver that honours the key drops; re-planned, its records could land in other
    messages under other keys. A batch refused now is dropped and its records planned anew.
    """
    found = None if destination.resync_safe else state.in_flight(con, destination.name)
    if found is None:
        return
    run_id, columns, rows = found
    records = [Record(key, hash_, tuple(values), op, tries) for key, hash_, op, tries, values in rows]
    batch = Batch(columns, records)
    log.warning(
        "%s: run %s stopped after sending %d record(s) and before recording the answer; "
        "sending that message again, unchanged",
        destination.name,
        run_id,
        len(batch),
    )
    try:
        results = _listed(destination.send(batch))
    except BatchRejectedError as error:
        log.warning("%s: the message left in flight is refused now: %s", destination.name, mask(error))
        state.clear_in_flight(con, destination.name)
        return
    failures = _failures(batch, results)
    _count(tally, batch, failures, options.max_attempts)
    failed = {record.key for record, _ in failures}
    accepted = [record for record in batch.records if record.key not in failed]
    state.record_resent(con, destination.name, accepted, failures, options.run_id, options.max_attempts)


def _send_overlapped(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    batches: Iterator[Batch],
    options: SyncOptions,
    progress: tuple[int, _Tally],
) -> None:
    """Send batch k on a worker while this thread records batch k-1 and prepares k+1.

    Accepted batches are recorded together (:class:`_Unrecorded`), after they committed:
    the state may lag behind the destination, never run ahead of it.
    """
    assert isinstance(destination, Preparing)
    every = _RECORD_EVERY if destination.resync_safe else 1  # may it receive a batch twice?
    unrecorded = _Unrecorded(con, destination.name, options, every * destination.batch_size)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tierwise-publish") as worker:
        try:
            flying: tuple[Batch, Future[Sequence[RecordResult]]] | None = None
            for batch in batches:
                destination.prepare(batch)
                landed = _land(destination, flying) if flying else None
                flying = (batch, worker.submit(destination.send, batch))
                if landed:
                    _settle(con, destination, *landed, options, progress, unrecorded)
            unrecorded.flush()  # while the last batch is written: only that one is left after it
            if flying:
                _settle(con, destination, *_land(destination, flying), options, progress, unrecorded)
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # the error that stopped the run goes on
                unrecorded.flush()
            raise
        unrecorded.flush()


# Accepted batches recorded per DuckDB transaction by the overlapped path: each commit
# (and the checkpoint it may trigger) cost about as much as recording a batch.
_RECORD_EVERY = 4


class _Unrecorded:
    """Consecutive accepted batches whose state is not saved yet: one statement saves them.

    Safe to lose in a crash only for a destination that may receive a batch twice
    (``resync_safe``): they are committed there, so the next run sends them again and
    writes nothing new (PostgreSQL's merge skips rows that are equal).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, options: SyncOptions, limit: int) -> None:
        self.con, self.name, self.options, self.limit = con, name, options, limit
        self.start = self.stop = 0

    def add(self, window: Window) -> None:
        if self.stop != self.start and self.stop != window.start:
            self.flush()
        if self.stop == self.start:
            self.start = window.start
        self.stop = window.stop
        if self.stop - self.start >= self.limit:
            self.flush()

    def flush(self) -> None:
        if self.stop != self.start:
            rows, self.start, self.stop = (self.start, self.stop), 0, 0
            options = self.options
            state.record_results(self.con, self.name, rows, [], options.run_id, options.max_attempts)


def _land(
    destination: Destination, flying: tuple[Batch, Future[Sequence[RecordResult]]]
) -> tuple[Batch, Sequence[RecordResult]]:
    """Wait for a batch sent on the worker; a rejected one is isolated here, before the next goes."""
    batch, future = flying
    try:
        return batch, _listed(future.result())
    except BatchRejectedError as error:
        return batch, _isolate(destination, batch, error)


def _settle(
    con: duckdb.DuckDBPyConnection,
    destination: Destination,
    batch: Batch,
    results: Sequence[RecordResult],
    options: SyncOptions,
    progress: tuple[int, _Tally],
    unrecorded: _Unrecorded | None = None,
) -> None:
    """Record one sent batch in the sync state (or hand it to ``unrecorded``) and the tally."""
    pending, tally = progress
    start, stop = (batch.window.start, batch.window.stop) if batch.window else (0, 0)
    if isinstance(results, AllAccepted):
        failures: list[tuple[Record, RecordResult]] = []
        tally.sent += len(batch)
        tally.deleted += state.count_pending(con, start, stop, DELETE)
    else:
        failures = _failures(batch, results)
        _count(tally, batch, failures, options.max_attempts)
    if unrecorded is not None and batch.window is not None and not failures:
        unrecorded.add(batch.window)
    else:
        if unrecorded is not None:
            unrecorded.flush()  # in order: what was sent before this batch first
        rows = (start, stop)
        state.record_results(con, destination.name, rows, failures, options.run_id, options.max_attempts)
    tally.batches += 1
    _log_progress(destination.name, tally, pending)


def _failures(batch: Batch, results: Sequence[RecordResult]) -> list[tuple[Record, RecordResult]]:
    """The refused records with their results; a record the destination did not answer for failed."""
    by_key = {result.key: result for result in results}
    missing = RecordResult("", ok=False, error="the destination returned no result for this record")
    records = batch.records
    answered = [(record, by_key.get(record.key) or missing._replace(key=record.key)) for record in records]
    return [(record, result) for record, result in answered if not result.ok]


def _count(
    tally: _Tally, batch: Batch, failures: Sequence[tuple[Record, RecordResult]], max_attempts: int
) -> None:
    tally.sent += len(batch) - len(failures)
    tally.deleted += len(batch.deletes()) - sum(record.op == DELETE for record, _ in failures)
    tally.rejected += len(failures)
    for record, result in failures:
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
    fields: tuple[fielddiff.RecordDiff, ...] = (),
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
        fields=fields,
    )
