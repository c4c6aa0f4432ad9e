"""Publishing to a real PostgreSQL: upserts, the outbox, dropped connections, bad rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.fakes.support import scratch_database
from tests.fakes.warehouse import build_marts, execute
from tests.support import isolate_tierwise, run_context

from tierwise.publish import engine, publish
from tierwise.publish.config import DatabaseConfig, PublishConfig
from tierwise.publish.errors import PublishFailedError
from tierwise.publish.postgres import PostgresTable

CUSTOMERS = 180
COLUMNS = "customer_id, as_of_date, measure_value, tier_code, tier_rank, is_eligible, gap_to_next_tier"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with scratch_database() as uri:
        yield uri


@pytest.fixture
def schema(database: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "t_" + request.node.name.removeprefix("test_")[:40]
    yield name
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{name}" cascade')


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str) -> Path:
    isolate_tierwise(tmp_path, monkeypatch, home=True)
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_POSTGRES", database)
    return build_marts(tmp_path / "warehouse.duckdb", customers=CUSTOMERS)


def config(schema: str, **database: Any) -> PublishConfig:
    options = {"batch_size": 60, "retry_base_delay": 0.01, **database}
    return PublishConfig(database=replace(DatabaseConfig(schema=schema), **options))


def pg_rows(uri: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(uri) as conn:
        return conn.execute(sql).fetchall()


def premade_table(uri: str, schema: str, create_table: str) -> None:
    """A table made by hand before the first publish (``create_table`` names it in ``schema``)."""
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
        conn.execute(create_table)


def assert_mirrors_mart(uri: str, schema: str, warehouse: Path) -> None:
    expected = execute(warehouse, f"select {COLUMNS} from marts.customer_tiers order by customer_id")
    order = 'customer_id collate "C"'  # DuckDB's byte order, whatever the column's collation
    assert pg_rows(uri, f"select {COLUMNS} from {schema}.customer_tiers order by {order}") == expected


def test_upsert_outbox_and_no_change_rerun(database: str, schema: str, warehouse: Path) -> None:
    first = publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    tiers, events = first.streams
    assert tiers.stream.startswith("database.customer_tiers@postgres://127.0.0.1:5432/")
    assert (tiers.sent, tiers.applied) == (CUSTOMERS, CUSTOMERS)
    assert_mirrors_mart(database, schema, warehouse)
    n_events = execute(warehouse, "select count(*) from marts.tier_changes")[0][0]
    assert events.sent == n_events
    assert pg_rows(database, f"select count(*) from {schema}.tier_change_events") == [(n_events,)]

    again = publish(["database"], run_context("run-2", warehouse=warehouse), config=config(schema))
    assert [(stream.sent, stream.applied) for stream in again.streams] == [(0, 0), (0, 0)]

    execute(
        warehouse, "update marts.customer_tiers set measure_value = measure_value + 1 where tier_rank = 4"
    )
    changed = execute(warehouse, "select count(*) from marts.customer_tiers where tier_rank = 4")[0][0]
    dry = run_context("dry", warehouse=warehouse, dry_run=True)
    (record, *_) = publish(["database"], dry, config=config(schema), sample=1).streams[0].fields
    where = f"where customer_id = '{record.key}'"
    (old,) = pg_rows(database, f"select measure_value from {schema}.customer_tiers {where}")
    (new,) = execute(warehouse, f"select measure_value from marts.customer_tiers {where}")
    # The old value read back from PostgreSQL, the new one from the mart.
    assert record.line() == f"changed {record.key}: measure_value {old[0]} -> {new[0]}"
    third = publish(["database"], run_context("run-3", warehouse=warehouse), config=config(schema))
    assert (third.streams[0].sent, third.streams[0].applied) == (changed, changed)
    assert_mirrors_mart(database, schema, warehouse)

    # A full resync resends every row, but PostgreSQL rewrites none: they are all equal.
    cfg = config(schema)
    resync = publish(["database"], run_context("run-4", warehouse=warehouse), config=cfg, full_resync=True)
    assert (resync.streams[0].sent, resync.streams[0].applied) == (CUSTOMERS, 0)
    assert resync.streams[1].applied == 0  # the outbox ignores events it already holds


def _drop_connection_once(monkeypatch: pytest.MonkeyPatch, uri: str, on_batch: int) -> list[int]:
    """Terminate the publisher's backend inside the transaction of batch ``on_batch``."""
    calls: list[int] = []
    original = PostgresTable._merge

    def merge_then_die(self: PostgresTable, conn: psycopg.Connection[Any]) -> int:
        calls.append(1)
        if len(calls) == on_batch and self.spec.name == "customer_tiers":
            pid = conn.info.backend_pid
            with psycopg.connect(uri, autocommit=True) as killer:
                killer.execute("select pg_terminate_backend(%s)", [pid])
        return original(self, conn)

    monkeypatch.setattr(PostgresTable, "_merge", merge_then_die)
    return calls


def test_connection_dropped_mid_transaction_is_retried_in_the_run(
    database: str, schema: str, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop_connection_once(monkeypatch, database, on_batch=2)
    report = publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    assert report.streams[0].sent == CUSTOMERS
    assert_mirrors_mart(database, schema, warehouse)


def test_connection_dropped_leaves_no_partial_batch_and_the_rerun_converges(
    database: str, schema: str, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop_connection_once(monkeypatch, database, on_batch=2)
    with pytest.raises(PublishFailedError) as failure:
        publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema, max_retries=0))
    tiers = failure.value.report.streams[0]
    assert tiers.status == "failed" and tiers.sent == 60
    # Batch 1 committed, batch 2 died with its connection: exactly 60 rows, nothing in between.
    assert pg_rows(database, f"select count(*) from {schema}.customer_tiers") == [(60,)]
    monkeypatch.undo()
    isolate_tierwise(warehouse.parent, monkeypatch, home=True)
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_POSTGRES", database)
    report = publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    assert report.streams[0].sent == CUSTOMERS - 60
    assert_mirrors_mart(database, schema, warehouse)


def test_process_killed_between_batches_then_rerun(
    database: str, schema: str, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = PostgresTable.send
    sent: list[int] = []

    def send_then_die(self: PostgresTable, batch: Any) -> Any:
        if len(sent) == 2:
            raise KeyboardInterrupt("worker killed")
        sent.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(PostgresTable, "send", send_then_die)
    with pytest.raises(KeyboardInterrupt):
        publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    monkeypatch.setattr(PostgresTable, "send", original)
    report = publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    assert report.streams[0].sent == CUSTOMERS - 120
    assert_mirrors_mart(database, schema, warehouse)


def test_killed_after_commits_before_state_is_saved_the_resend_writes_nothing(
    database: str, schema: str, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sync state is saved a few committed batches at a time: losing it only costs a resend."""

    def die(self: Any) -> None:
        raise KeyboardInterrupt("killed before the state was saved")

    monkeypatch.setattr(engine._Unrecorded, "flush", die)
    with pytest.raises(KeyboardInterrupt):
        publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    assert pg_rows(database, f"select count(*) from {schema}.customer_tiers") == [(CUSTOMERS,)]
    monkeypatch.undo()
    isolate_tierwise(warehouse.parent, monkeypatch, home=True)
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_POSTGRES", database)
    tiers = publish(["database"], run_context("run-2", warehouse=warehouse), config=config(schema)).streams[0]
    assert (tiers.sent, tiers.applied) == (CUSTOMERS, 0)
    assert_mirrors_mart(database, schema, warehouse)


def test_a_row_the_database_refuses_is_isolated_retried_then_abandoned(
    database: str, schema: str, warehouse: Path
) -> None:
    premade_table(
        database,
        schema,
        f"create table {schema}.customer_tiers (customer_id text primary key, "
        "measure_value numeric(18,2) check (measure_value >= 0))",
    )
    execute(warehouse, "update marts.customer_tiers set measure_value = -5 where customer_id = 'C0000007'")
    for run in range(1, 4):
        report = publish(["database"], run_context(f"run-{run}", warehouse=warehouse), config=config(schema))
        tiers = report.streams[0]
        assert tiers.rejected == 1 and tiers.sent == (CUSTOMERS - 1 if run == 1 else 0)
    state = execute(
        warehouse,
        "select status, attempts, last_error from ops.sync_state "
        "where record_key = 'C0000007' and destination like 'database.customer_tiers%'",
    )
    assert state[0][:2] == ("abandoned", 3) and "check" in state[0][2]
    cfg = config(schema)
    assert publish(["database"], run_context("run-4", warehouse=warehouse), config=cfg).streams[0].sent == 0
    execute(warehouse, "update marts.customer_tiers set measure_value = 5 where customer_id = 'C0000007'")
    assert publish(["database"], run_context("run-5", warehouse=warehouse), config=cfg).streams[0].sent == 1
    assert_mirrors_mart(database, schema, warehouse)


def test_text_with_special_characters_round_trips(database: str, schema: str, warehouse: Path) -> None:
    execute(
        warehouse,
        "update marts.customer_tiers set tier_code = case customer_id "
        "when 'C0000001' then 'tab' || chr(9) || 'new' || chr(10) || 'line' || chr(13) "
        "when 'C0000002' then 'back\\slash \\N' when 'C0000003' then '' when 'C0000004' then null "
        "else 'ünï ☃ ' || customer_id end",
    )
    publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    assert_mirrors_mart(database, schema, warehouse)
    again = publish(["database"], run_context("run-2", warehouse=warehouse), config=config(schema))
    assert (again.streams[0].sent, again.streams[0].applied) == (0, 0)


def test_keys_ordered_differently_by_postgres_still_converge(
    database: str, schema: str, warehouse: Path
) -> None:
    # Batches are ranges in DuckDB's byte order; under a linguistic collation PostgreSQL
    # interleaves them ('c…' sorts among 'C…'). The key bounds must still cover each batch.
    premade_table(
        database,
        schema,
        f'create table {schema}.customer_tiers (customer_id text collate "und-x-icu" primary key, '
        "tier_rank bigint, measure_value numeric(20, 4))",
    )
    execute(
        warehouse,
        "update marts.customer_tiers set customer_id = lower(customer_id) "
        "where customer_id[-1:] in ('3', '6', '9')",
    )
    first = publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    assert first.streams[0].applied == CUSTOMERS
    assert_mirrors_mart(database, schema, warehouse)
    execute(warehouse, "update marts.customer_tiers set tier_rank = tier_rank + 10")
    second = publish(["database"], run_context("run-2", warehouse=warehouse), config=config(schema))
    assert (second.streams[0].sent, second.streams[0].applied) == (CUSTOMERS, CUSTOMERS)
    assert_mirrors_mart(database, schema, warehouse)
    with psycopg.connect(database) as conn:
        conn.execute(f"delete from {schema}.customer_tiers where customer_id in ('c0000003', 'C0000100')")
    # Rows removed behind our back come back with the next change of their data.
    execute(warehouse, "update marts.customer_tiers set tier_rank = tier_rank + 1")
    third = publish(["database"], run_context("run-3", warehouse=warehouse), config=config(schema))
    assert third.streams[0].applied == CUSTOMERS
    assert_mirrors_mart(database, schema, warehouse)


EVENT_COLUMNS = "change_key, customer_id, as_of_date, from_tier_code, to_tier_code, change_type, reason"
BYTE_ORDER = 'order by change_key collate "C"'


def test_a_rebuilt_evaluation_revises_and_retracts_outbox_rows_across_a_kill(
    database: str, schema: str, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    (changed, _), (vanished, vanished_tier) = execute(
        warehouse, "select change_key, to_tier_code from marts.tier_changes order by 1 limit 2"
    )
    execute(
        warehouse, f"update marts.tier_changes set to_tier_code = 'platinum' where change_key = '{changed}'"
    )
    execute(warehouse, f"delete from marts.tier_changes where change_key = '{vanished}'")
    original = PostgresTable.send

    def die_on_the_outbox(self: PostgresTable, batch: Any) -> Any:
        if self.spec.name == "tier_change_events":
            raise KeyboardInterrupt("killed after the revision log was saved")
        return original(self, batch)

    monkeypatch.setattr(PostgresTable, "send", die_on_the_outbox)
    with pytest.raises(KeyboardInterrupt):
        publish(["database"], run_context("run-2", warehouse=warehouse), config=config(schema))
    monkeypatch.setattr(PostgresTable, "send", original)
    events = publish(["database"], run_context("run-3", warehouse=warehouse), config=config(schema)).streams[
        1
    ]
    assert (events.changed, events.sent, events.applied) == (2, 2, 2)
    outbox = f"select {EVENT_COLUMNS} from {schema}.tier_change_events"
    current = pg_rows(database, f"{outbox} where not retracted {BYTE_ORDER}")
    assert current == execute(warehouse, f"select {EVENT_COLUMNS} from marts.tier_changes order by 1")
    revised = pg_rows(
        database,
        f"select change_key, to_tier_code, revision, retracted from {schema}.tier_change_events "
        f"where revision <> 1 or retracted {BYTE_ORDER}",
    )
    # One revision each, although the killed run had already logged them.
    assert revised == [(changed, "platinum", 2, False), (vanished, vanished_tier, 2, True)]
    again = publish(["database"], run_context("run-4", warehouse=warehouse), config=config(schema))
    assert [(stream.sent, stream.applied) for stream in again.streams] == [(0, 0), (0, 0)]


def test_an_outbox_from_before_revisions_is_brought_in_line(
    database: str, schema: str, warehouse: Path
) -> None:
    """The drift of issue 16: an outbox holding an event's old content gets the mart's, and
    only that row moves (consumers read rows whose ``_synced_at`` moved)."""
    premade_table(
        database,
        schema,
        f"create table {schema}.tier_change_events (change_key text primary key, customer_id text, "
        "as_of_date date, previous_as_of_date date, from_tier_code text, to_tier_code text, "
        "change_type text, reason text, _run_id text, _synced_at timestamptz not null default now())",
    )
    columns = f"{EVENT_COLUMNS}, previous_as_of_date"
    events = execute(warehouse, f"select {columns} from marts.tier_changes order by 1")
    drifted = (*events[0][:4], "bronze", "entry", *events[0][6:])  # what an earlier evaluation said
    with psycopg.connect(database, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.executemany(
            f"insert into {schema}.tier_change_events ({columns}, _run_id) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, 'old')",
            [drifted, *events[1:]],
        )
    report = publish(["database"], run_context("run-1", warehouse=warehouse), config=config(schema))
    assert report.streams[1].applied == 1
    held = pg_rows(
        database,
        f"select {columns}, revision, retracted, _run_id from {schema}.tier_change_events {BYTE_ORDER}",
    )
    assert [row[:8] for row in held] == events
    assert {row[8:10] for row in held} == {(1, False)}
    assert [row[0] for row in held if row[10] != "old"] == [events[0][0]]
