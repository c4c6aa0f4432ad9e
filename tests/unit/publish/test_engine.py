from __future__ import annotations

import threading
from collections.abc import Sequence

import duckdb
import pytest

from tierwise.publish import state
from tierwise.publish.engine import AllAccepted, Batch, Record, RecordResult, Source, SyncOptions, sync
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.state import ensure_tables

SOURCE = Source(sql="select k as record_key, k, v from src", columns=("k", "v"), hash_columns=("k", "v"))


class Recorder:
    """An in-memory destination that remembers every batch and can refuse records."""

    name = "test.dest"
    batch_size = 3
    supports_delete = True
    resync_safe = True

    def __init__(self, reject: Sequence[str] = (), permanent: Sequence[str] = (), poison: Sequence[str] = ()):
        self.reject, self.permanent, self.poison = set(reject), set(permanent), set(poison)
        self.batches: list[list[tuple[str, str]]] = []
        self.held: dict[str, tuple[object, ...]] = {}
        self.crash_after: int | None = None

    def send(self, batch: Batch) -> list[RecordResult]:
        if self.crash_after is not None and len(self.batches) >= self.crash_after:
            raise RuntimeError("killed")
        if len(batch) > 1 and self.poison & {record.key for record in batch.records}:
            raise BatchRejectedError("batch contains a bad record")
        self.batches.append([(record.op, record.key) for record in batch.records])
        results = []
        for record in batch.records:
            bad = record.key in self.reject | self.permanent | self.poison
            if not bad:
                if record.op == "delete":
                    self.held.pop(record.key, None)
                else:
                    self.held[record.key] = record.values
            error = "refused" if bad else None
            results.append(RecordResult(record.key, not bad, error, record.key in self.permanent))
        return results

    def close(self) -> None:
        pass

    def sent_keys(self) -> list[str]:
        return [key for batch in self.batches for _, key in batch]


@pytest.fixture
def warehouse(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    ensure_tables(con)
    con.execute("create table src as select 'k' || i as k, i as v from range(1, 8) t(i)")
    return con


def run(con: duckdb.DuckDBPyConnection, dest: Recorder, **options: object):
    return sync(con, SOURCE, dest, SyncOptions(run_id="r", **options))  # type: ignore[arg-type]


def states(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int]]:
    rows = con.execute("select record_key, status, attempts from ops.sync_state").fetchall()
    return {key: (status, attempts) for key, status, attempts in rows}


def test_only_new_changed_and_removed_records_are_sent(warehouse: duckdb.DuckDBPyConnection) -> None:
    dest = Recorder()
    first = run(warehouse, dest)
    assert (first.new, first.sent, len(dest.batches)) == (7, 7, 3)
    dest.batches.clear()
    again = run(warehouse, dest)
    assert (again.unchanged, again.sent, dest.batches) == (7, 0, [])
    warehouse.execute("update src set v = 70 where k = 'k7'; delete from src where k = 'k1'")
    third = run(warehouse, dest)
    assert dest.batches == [[("delete", "k1"), ("upsert", "k7")]]
    assert (third.changed, third.deleted, third.sent) == (1, 1, 2)
    assert dest.held == {f"k{i}": (f"k{i}", 70 if i == 7 else i) for i in range(2, 8)}
    assert states(warehouse)["k1"] == ("deleted", 0)
    warehouse.execute("insert into src values ('k1', 1)")
    assert run(warehouse, dest).new == 1 and "k1" in dest.held


def test_rejected_records_are_retried_then_abandoned(warehouse: duckdb.DuckDBPyConnection) -> None:
    dest = Recorder(reject=["k2"], permanent=["k5"])
    report = run(warehouse, dest, max_attempts=3)
    assert (report.sent, report.rejected, report.abandoned) == (5, 2, 1)
    assert states(warehouse)["k2"] == ("rejected", 1) and states(warehouse)["k5"] == ("abandoned", 1)
    dest.batches.clear()
    assert run(warehouse, dest, max_attempts=3).retried == 1
    assert dest.sent_keys() == ["k2"]
    run(warehouse, dest, max_attempts=3)
    assert states(warehouse)["k2"] == ("abandoned", 3)
    dest.batches.clear()
    assert run(warehouse, dest, max_attempts=3).sent == 0 and dest.batches == []
    # New data is a new chance, with a fresh attempt count.
    warehouse.execute("update src set v = 20 where k = 'k2'")
    dest.reject.clear()
    assert run(warehouse, dest, max_attempts=3).sent == 1
    assert states(warehouse)["k2"] == ("sent", 0)


def test_rejected_batch_is_split_until_the_bad_record_is_alone(warehouse: duckdb.DuckDBPyConnection) -> None:
    dest = Recorder(poison=["k2"])
    report = run(warehouse, dest)
    assert (report.sent, report.rejected) == (6, 1)
    assert "k2" not in dest.held and states(warehouse)["k2"][0] == "rejected"


def test_crash_between_batches_then_rerun_converges(warehouse: duckdb.DuckDBPyConnection) -> None:
    dest = Recorder()
    dest.crash_after = 1
    with pytest.raises(RuntimeError):
        run(warehouse, dest)
    assert sorted(states(warehouse)) == ["k1", "k2", "k3"]
    status = warehouse.execute("select status from ops.sync_runs").fetchall()
    assert status == [("failed",)]
    dest.crash_after = None
    assert run(warehouse, dest).sent == 4
    assert dest.sent_keys() == [f"k{i}" for i in range(1, 8)]


def test_unavailable_destination_fails_the_stream_without_touching_state(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    class Down(Recorder):
        def send(self, batch: Batch) -> list[RecordResult]:
            raise DestinationUnavailableError("HTTP 503 for too long")

    report = run(warehouse, Down())
    assert report.status == "failed" and "503" in (report.error or "")
    assert states(warehouse) == {}


def test_full_resync_resends_everything_unless_unsafe(warehouse: duckdb.DuckDBPyConnection) -> None:
    dest = Recorder()
    run(warehouse, dest)
    dest.batches.clear()
    assert run(warehouse, dest, full_resync=True).sent == 7
    dest.batches.clear()
    dest.resync_safe = False
    assert run(warehouse, dest, full_resync=True).sent == 0


def test_dry_run_returns_the_diff_and_writes_nothing(warehouse: duckdb.DuckDBPyConnection) -> None:
    dest = Recorder()
    report = run(warehouse, dest, dry_run=True)
    assert report.status == "dry_run" and report.to_send == 7
    assert ("new", "k1") in report.diff
    assert dest.batches == [] and states(warehouse) == {}
    assert warehouse.execute("select count(*) from ops.sync_runs").fetchone() == (0,)


def test_dry_run_works_without_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table src as select 'a' as k, 1 as v")
    assert run(con, Recorder(), dry_run=True).new == 1


def test_key_only_hash_never_resends(warehouse: duckdb.DuckDBPyConnection) -> None:
    source = Source(sql="select k as record_key, k, v from src", columns=("k", "v"), hash_columns=())
    dest = Recorder()
    sync(warehouse, source, dest, SyncOptions(run_id="r"))
    warehouse.execute("update src set v = v + 1")
    dest.batches.clear()
    assert sync(warehouse, source, dest, SyncOptions(run_id="r2")).sent == 0


def test_missing_result_counts_as_failure(warehouse: duckdb.DuckDBPyConnection) -> None:
    class Forgetful(Recorder):
        def send(self, batch: Batch) -> list[RecordResult]:
            return [RecordResult(record.key, True) for record in batch.records if record.key != "k3"]

    report = run(warehouse, Forgetful())
    assert report.rejected == 1 and states(warehouse)["k3"][0] == "rejected"


def test_duplicate_keys_in_the_source_are_refused(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute("insert into src values ('k1', 99)")
    with pytest.raises(Exception, match="duplicate"):
        run(warehouse, Recorder())


class Prepared(Recorder):
    """A destination the engine runs on a worker thread: ``send`` uses only what ``prepare`` read."""

    def __init__(self, *args: Sequence[str]) -> None:
        super().__init__(*args)
        self.threads: set[str] = set()

    def prepare(self, batch: Batch) -> None:
        assert threading.current_thread() is threading.main_thread()
        batch.prepared[self.name] = batch.records

    def send(self, batch: Batch) -> list[RecordResult]:
        self.threads.add(threading.current_thread().name)
        if self.name not in batch.prepared:  # a half of a rejected batch: sent by the engine's thread
            assert threading.current_thread() is threading.main_thread()
            self.prepare(batch)
        return super().send(batch)


def test_a_preparing_destination_sends_on_a_worker_with_the_same_outcome(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    dest = Prepared([], [], ["k5"])
    report = run(warehouse, dest)
    assert (report.sent, report.rejected, report.status) == (6, 1, "ok")
    assert sorted(dest.held) == ["k1", "k2", "k3", "k4", "k6", "k7"]
    assert states(warehouse)["k5"] == ("rejected", 1) and states(warehouse)["k7"] == ("sent", 0)
    assert any(name.startswith("tierwise-publish") for name in dest.threads)
    dest.batches.clear()
    assert run(warehouse, dest).retried == 1 and dest.sent_keys() == ["k5"]


def test_a_crash_on_the_worker_keeps_the_batches_recorded_before_it(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    dest = Prepared()
    dest.crash_after = 2
    with pytest.raises(RuntimeError):
        run(warehouse, dest)
    assert sorted(states(warehouse)) == [f"k{i}" for i in range(1, 7)]
    dest.crash_after = None
    assert run(warehouse, dest).sent == 1


def test_an_unavailable_worker_destination_fails_the_stream(warehouse: duckdb.DuckDBPyConnection) -> None:
    class Down(Prepared):
        def send(self, batch: Batch) -> list[RecordResult]:
            if self.batches:
                raise DestinationUnavailableError("connection refused")
            return super().send(batch)

    report = run(warehouse, Down())
    assert report.status == "failed" and report.sent == 3
    assert sorted(states(warehouse)) == ["k1", "k2", "k3"]


def test_batches_stay_in_duckdb_until_records_are_read(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute("delete from src where k = 'k3'")
    run(warehouse, Recorder())
    warehouse.execute("insert into src values ('k3', 3); delete from src where k = 'k4'")

    seen: list[tuple[int, list[str]]] = []

    class Bulk(Recorder):
        batch_size = 10

        def send(self, batch: Batch) -> Sequence[RecordResult]:  # type: ignore[override]
            assert batch.window is not None and batch._records is None
            seen.append((len(batch), batch.delete_keys()))
            left, right = batch.split()
            assert (left.window, right.window) == batch.window.halves() and len(left) + len(right) == 2
            return AllAccepted(batch)

    dest = Bulk()
    report = run(warehouse, dest)
    assert (report.sent, report.deleted) == (2, 1) and seen == [(2, ["k4"])]
    assert states(warehouse)["k4"] == ("deleted", 0) and states(warehouse)["k3"] == ("sent", 0)


def test_all_accepted_reads_as_one_result_per_record(warehouse: duckdb.DuckDBPyConnection) -> None:
    batch = Batch(("k", "v"), [Record("a", "h", ("a", 1)), Record("b", "h", ("b", 2))])
    results = AllAccepted(batch)
    assert len(results) == 2 and list(results) == [RecordResult("a", True), RecordResult("b", True)]
    assert results[-1].key == "b"


def test_a_refused_change_keeps_the_hash_the_destination_holds(warehouse: duckdb.DuckDBPyConnection) -> None:
    run(warehouse, Recorder())
    sent = warehouse.execute("select last_sent_hash from ops.sync_state where record_key = 'k2'").fetchone()
    warehouse.execute("update src set v = 20 where k = 'k2'")
    run(warehouse, Recorder(reject=["k2"]))
    row = warehouse.execute(
        "select last_sent_hash, last_attempt_hash, status, attempts, last_error from ops.sync_state "
        "where record_key = 'k2'"
    ).fetchone()
    assert row is not None and sent is not None
    assert row[0] == sent[0] and row[1] != sent[0] and row[2:] == ("rejected", 1, "refused")


def test_a_worker_destination_has_accepted_batches_recorded_together_in_order(
    warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[tuple[tuple[int, int], list[str]]] = []
    original = state.record_results

    def spy(con: duckdb.DuckDBPyConnection, name: str, rows: tuple[int, int], failures, *rest):  # type: ignore[no-untyped-def]
        recorded.append((rows, [record.key for record, _ in failures]))
        original(con, name, rows, failures, *rest)

    monkeypatch.setattr(state, "record_results", spy)
    run(warehouse, Prepared())
    # The first two batches in one transaction, saved while the last one is being written.
    assert recorded == [((0, 6), []), ((6, 7), [])]
    recorded.clear()
    warehouse.execute("update src set v = v + 10")
    report = run(warehouse, Prepared(["k5"]))
    # What was accepted before a refusal is saved first, then the batch with the refusal.
    assert recorded == [((0, 3), []), ((3, 6), ["k5"]), ((6, 7), [])]
    assert report.sent == 6 and states(warehouse)["k5"] == ("rejected", 1)


class Messages(Recorder):
    """A destination that must not receive a record twice (notifications)."""

    resync_safe = False


def _die_after_the_send_of_batch(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Kill the run after batch ``number`` was sent, before its answer is recorded."""
    original = state.record_results
    recorded: list[int] = []

    def record_or_die(*args, **kwargs):  # type: ignore[no-untyped-def]
        recorded.append(1)
        if len(recorded) == number:
            raise KeyboardInterrupt("killed between the send and its record")
        original(*args, **kwargs)

    monkeypatch.setattr(state, "record_results", record_or_die)


def test_a_batch_left_in_flight_is_sent_again_unchanged_first(
    warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = Messages()
    _die_after_the_send_of_batch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run(warehouse, dest)
    monkeypatch.undo()
    assert dest.sent_keys() == ["k1", "k2", "k3", "k4", "k5", "k6"]
    # Planned anew, k4..k6 would be cut into other batches ([k0, k4, k5], [k6, k7]).
    warehouse.execute("insert into src values ('k0', 0)")
    dest.batches.clear()
    report = run(warehouse, dest)
    assert dest.batches == [
        [("upsert", "k4"), ("upsert", "k5"), ("upsert", "k6")],
        [("upsert", "k0"), ("upsert", "k7")],
    ]
    assert report.sent == 5 and states(warehouse)["k5"] == ("sent", 0)
    assert warehouse.execute("select count(*) from ops.sync_inflight").fetchone() == (0,)
    dest.batches.clear()
    assert run(warehouse, dest).sent == 0 and dest.batches == []


def test_a_batch_left_in_flight_and_refused_now_is_planned_anew(
    warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    _die_after_the_send_of_batch(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        run(warehouse, Messages())
    monkeypatch.undo()
    dest = Messages(poison=["k2"])
    report = run(warehouse, dest)
    assert (report.sent, report.rejected) == (6, 1)
    assert sorted(dest.held) == ["k1", "k3", "k4", "k5", "k6", "k7"]
    assert warehouse.execute("select count(*) from ops.sync_inflight").fetchone() == (0,)


def test_a_batch_refused_as_a_whole_leaves_nothing_in_flight(warehouse: duckdb.DuckDBPyConnection) -> None:
    report = run(warehouse, Messages(poison=["k5"]))
    assert (report.sent, report.rejected) == (6, 1)
    assert warehouse.execute("select count(*) from ops.sync_inflight").fetchone() == (0,)
