"""ops.sync_state, ops.sync_runs and ops.sync_inflight, driven directly (the engine's use: test_engine)."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest

from tierwise.exceptions import PublishError
from tierwise.publish import state
from tierwise.publish.engine import Batch, Record, RecordResult, Source
from tierwise.publish.report import StreamReport

SOURCE = Source(sql="select k as record_key, k, v from src", columns=("k", "v"), hash_columns=("k", "v"))
DEST = "test.dest"


def row_hash(key: str, value: int) -> str:
    """What the published columns hash to, computed here rather than by the module."""
    return hashlib.md5(json.dumps({"k": key, "v": value}, separators=(",", ":")).encode()).hexdigest()


def put_state(
    con: duckdb.DuckDBPyConnection, key: str, sent: str | None, tried: str | None, status: str, n: int
):
    con.execute(
        "insert into ops.sync_state values (?, ?, ?, ?, ?, ?, null, 'r0', now()::timestamp)",
        [DEST, key, sent, tried, status, n],
    )


@pytest.fixture
def planned(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """One record of every kind against a hand-written sync state."""
    state.ensure_tables(con)
    con.execute("create table src as select 'k' || i as k, i as v from range(1, 7) as t(i)")
    put_state(con, "k1", row_hash("k1", 1), row_hash("k1", 1), "sent", 0)  # unchanged
    put_state(con, "k2", row_hash("k2", 20), row_hash("k2", 20), "sent", 0)  # changed since
    put_state(con, "k4", None, row_hash("k4", 4), "rejected", 1)  # refused once: retried
    put_state(con, "k5", None, row_hash("k5", 5), "rejected", 3)  # out of attempts
    put_state(con, "k6", None, row_hash("k6", 6), "abandoned", 1)  # given up on
    put_state(con, "gone", "old", "old", "sent", 0)  # left the source: deleted there
    put_state(con, "gone_deleted", "old", "old", "deleted", 0)
    put_state(con, "gone_never_sent", None, "old", "rejected", 1)
    con.execute(
        "insert into ops.sync_state "
        "values ('other.dest', 'k3', ?, ?, 'sent', 0, null, 'r0', now()::timestamp)",
        [row_hash("k3", 3), row_hash("k3", 3)],
    )
    return con


def test_plan_classifies_every_record_against_its_destinations_state(
    planned: duckdb.DuckDBPyConnection,
) -> None:
    counts = state.plan(planned, SOURCE, DEST, supports_delete=True, max_attempts=3)
    assert counts == {"unchanged": 1, "changed": 1, "new": 1, "retry": 1, "abandoned": 2, "delete": 1}
    kinds = dict(planned.execute("select record_key, change from _tw_plan").fetchall())
    assert kinds == {
        "k1": "unchanged",
        "k2": "changed",
        "k3": "new",
        "k4": "retry",
        "k5": "abandoned",
        "k6": "abandoned",
        "gone": "delete",
    }


def test_a_destination_without_deletes_plans_none(planned: duckdb.DuckDBPyConnection) -> None:
    counts = state.plan(planned, SOURCE, DEST, supports_delete=False, max_attempts=3)
    assert "delete" not in counts and sum(counts.values()) == 6


def test_pending_records_are_numbered_in_key_order_with_their_values(
    planned: duckdb.DuckDBPyConnection,
) -> None:
    state.plan(planned, SOURCE, DEST, supports_delete=True, max_attempts=3)
    assert state.stage_pending(planned, SOURCE, resync=False) == 4
    assert state.pending_rows(planned, 0, 4) == [
        ("gone", None, "delete", 0, None, None),
        ("k2", row_hash("k2", 2), "upsert", 0, "k2", 2),
        ("k3", row_hash("k3", 3), "upsert", 0, "k3", 3),
        ("k4", row_hash("k4", 4), "upsert", 1, "k4", 4),
    ]
    assert state.pending_keys(planned, 0, 4, "delete") == ["gone"]
    assert state.count_pending(planned, 1, 4, "upsert") == 3
    # Ranks 1-2 span keys gone..k2, which holds the unchanged k1 as well.
    assert state.window_span(planned, 0, 2) == 3
    assert state.stage_pending(planned, SOURCE, resync=True) == 7
    # Every planned record pending: a window spans its own records only (gone, k1; k2..k5).
    assert state.window_span(planned, 0, 2) == 2
    assert state.window_span(planned, 2, 6) == 4


def test_the_diff_sample_takes_a_few_keys_of_each_kind_to_send(planned: duckdb.DuckDBPyConnection) -> None:
    planned.execute("insert into src values ('k7', 7), ('k8', 8)")
    state.plan(planned, SOURCE, DEST, supports_delete=True, max_attempts=3)
    assert state.diff_sample(planned, 2) == (
        ("changed", "k2"),
        ("delete", "gone"),
        ("new", "k3"),
        ("new", "k7"),
        ("retry", "k4"),
    )


def test_a_batchs_outcome_is_recorded_at_once(planned: duckdb.DuckDBPyConnection) -> None:
    state.plan(planned, SOURCE, DEST, supports_delete=True, max_attempts=3)
    state.stage_pending(planned, SOURCE, resync=False)
    refused = Record("k4", row_hash("k4", 4), ("k4", 4), prior_attempts=1)
    state.note_in_flight(planned, DEST, Batch(("k", "v"), [refused]), "r1")
    state.record_results(planned, DEST, (0, 4), [(refused, RecordResult("k4", False, "refused"))], "r1", 3)
    rows = planned.execute(
        "select record_key, last_sent_hash, last_attempt_hash, status, attempts, last_error, last_run_id "
        "from ops.sync_state where destination = ? and record_key in ('gone', 'k2', 'k3', 'k4') order by 1",
        [DEST],
    ).fetchall()
    assert rows == [
        ("gone", None, None, "deleted", 0, None, "r1"),
        ("k2", row_hash("k2", 2), row_hash("k2", 2), "sent", 0, None, "r1"),
        ("k3", row_hash("k3", 3), row_hash("k3", 3), "sent", 0, None, "r1"),
        ("k4", None, row_hash("k4", 4), "rejected", 2, "refused", "r1"),
    ]
    assert state.in_flight(planned, DEST) is None


def test_a_record_refused_for_the_last_time_is_abandoned(planned: duckdb.DuckDBPyConnection) -> None:
    last_try = Record("k4", row_hash("k4", 4), ("k4", 4), prior_attempts=2)
    accepted = Record("k9", "h9", ("k9", 9))
    state.record_resent(planned, DEST, [accepted], [(last_try, RecordResult("k4", False, "no"))], "r2", 3)
    rows = planned.execute(
        "select record_key, last_sent_hash, status, attempts from ops.sync_state "
        "where destination = ? and record_key in ('k4', 'k9') order by 1",
        [DEST],
    ).fetchall()
    assert rows == [("k4", None, "abandoned", 3), ("k9", "h9", "sent", 0)]


@pytest.mark.parametrize(
    ("permanent", "attempts", "status"),
    [
        (False, 1, state.REJECTED),
        (False, 2, state.REJECTED),
        (False, 3, state.ABANDONED),
        (True, 1, state.ABANDONED),
    ],
)
def test_failure_status(permanent: bool, attempts: int, status: str) -> None:
    assert state.failure_status(permanent, attempts, max_attempts=3) == status


def test_records_back_to_what_the_destination_holds_are_settled(planned: duckdb.DuckDBPyConnection) -> None:
    planned.execute(
        "update ops.sync_state set status = 'rejected', attempts = 2, last_attempt_hash = 'bad' "
        "where destination = ? and record_key = 'k1'",
        [DEST],
    )
    state.plan(planned, SOURCE, DEST, supports_delete=True, max_attempts=3)
    state.settle_unchanged(planned, DEST)
    row = planned.execute(
        "select status, attempts, last_attempt_hash from ops.sync_state "
        "where destination = ? and record_key = 'k1'",
        [DEST],
    ).fetchone()
    assert row == ("sent", 0, row_hash("k1", 1))


def test_immutable_records_hash_their_key_and_hash_sql_wins(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table src as select 'a' as k, 1 as v")
    state.stage_source(con, Source(SOURCE.sql, SOURCE.columns, hash_columns=()))
    assert con.execute("select record_hash from _tw_src").fetchone() == (hashlib.md5(b"a").hexdigest(),)
    state.stage_source(con, Source(SOURCE.sql, SOURCE.columns, ("k", "v"), hash_sql="'v' || v"))
    assert con.execute("select record_hash from _tw_src").fetchone() == ("v1",)


def test_duplicate_record_keys_are_refused(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table src as select * from (values ('a', 1), ('a', 2), ('b', 3)) as t(k, v)")
    with pytest.raises(PublishError, match="source has 1 duplicate and 0 null record keys"):
        state.stage_source(con, SOURCE)


def test_a_null_key_is_not_counted_as_a_duplicate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table src as select * from (values ('a', 1), ('a', 2), (null, 3)) as t(k, v)")
    with pytest.raises(PublishError, match="source has 1 duplicate and 1 null record keys"):
        state.stage_source(con, SOURCE)


def test_runs_are_numbered_per_destination_and_finished_with_their_counts(
    con: duckdb.DuckDBPyConnection,
) -> None:
    state.ensure_tables(con)
    assert [state.start_run(con, "r1", DEST), state.start_run(con, "r1", DEST)] == [1, 2]
    assert state.start_run(con, "r1", "other.dest") == 1
    report = StreamReport("d", DEST, "ok", total=5, new=2, changed=1, unchanged=2, sent=3, elapsed=1.23456)
    state.finish_run(con, "r1", DEST, 2, report)
    rows = con.execute(
        "select attempt, status, duration_s, total, new, changed, unchanged, sent, finished_at is not null "
        "from ops.sync_runs where destination = ? order by attempt",
        [DEST],
    ).fetchall()
    assert rows == [
        (1, "running", None, None, None, None, None, None, False),
        (2, "ok", 1.235, 5, 2, 1, 2, 3, True),
    ]


def test_the_batch_in_flight_round_trips_and_is_replaced(con: duckdb.DuckDBPyConnection) -> None:
    assert state.in_flight(con, DEST) is None  # no table yet: nothing in flight
    state.ensure_tables(con)
    first = Batch(("k", "v"), [Record("k1", "h1", ("k1", 1)), Record("k2", None, (None, None), "delete", 2)])
    state.note_in_flight(con, DEST, first, "r1")
    assert state.in_flight(con, DEST) == (
        "r1",
        ["k", "v"],
        [["k1", "h1", "upsert", 0, ["k1", 1]], ["k2", None, "delete", 2, [None, None]]],
    )
    state.note_in_flight(con, DEST, Batch(("k", "v"), [Record("k3", "h3", ("k3", 3))]), "r2")
    assert state.in_flight(con, DEST) == ("r2", ["k", "v"], [["k3", "h3", "upsert", 0, ["k3", 3]]])
    state.clear_in_flight(con, DEST)
    assert state.in_flight(con, DEST) is None


def test_notified_keys_read_the_state_once_it_exists(con: duckdb.DuckDBPyConnection) -> None:
    query = "select count(*) from {} as n"
    assert con.execute(query.format(state.notified_keys(con))).fetchone() == (0,)
    state.ensure_tables(con)
    put_state(con, "k1", "h", "h", "sent", 0)
    put_state(con, "k2", None, "h", "rejected", 1)
    keys = con.execute(f"select record_key from {state.notified_keys(con)}", {"destination": DEST}).fetchall()
    assert keys == [("k1",)]
