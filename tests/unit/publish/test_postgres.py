"""PostgreSQL destination: connection parameters, naming and batch payloads.

Writing to a real server is tested in tests/integration/test_publish_postgres.py.
"""

from __future__ import annotations

import pytest

from tierwise.publish.config import DatabaseConfig
from tierwise.publish.connections import Connection
from tierwise.publish.engine import DELETE, Batch, Record
from tierwise.publish.errors import DestinationUnavailableError
from tierwise.publish.postgres import PostgresTable, _Payload, _read, conninfo
from tierwise.publish.tables import OUTBOX_TABLE, TableSpec

SPEC = TableSpec("customer_tiers", "customer_id", (("customer_id", "VARCHAR"), ("tier_code", "VARCHAR")))
SERVER = Connection(
    "tierwise_postgres",
    "postgres",
    host="db.example",
    port=5433,
    login="app",
    password="pw-123456",
    schema="tiers",
    extra={"sslmode": "require", "options": "-c statement_timeout=0", "provider": "ignored"},
)


def test_conninfo_takes_the_connection_and_its_libpq_extras() -> None:
    assert conninfo(SERVER, DatabaseConfig(connect_timeout=4)) == {
        "host": "db.example",
        "port": 5433,
        "user": "app",
        "password": "pw-123456",
        "dbname": "tiers",
        "connect_timeout": 4,
        "application_name": "tierwise-publish",
        "sslmode": "require",
        "options": "-c statement_timeout=0",
    }


def test_conninfo_defaults_to_the_local_server_and_leaves_out_what_is_unset() -> None:
    assert conninfo(Connection("tierwise_postgres", "postgres"), DatabaseConfig()) == {
        "host": "localhost",
        "port": 5432,
        "dbname": "postgres",
        "connect_timeout": 10,
        "application_name": "tierwise-publish",
    }


def test_the_table_is_named_by_where_it_lives_and_upserted_tables_leave_pages_free() -> None:
    config = DatabaseConfig(schema="ops pub", fillfactor=70)
    table = PostgresTable(SERVER, SPEC, config, run_id="r1")
    assert table.name == "database.customer_tiers@postgres://db.example:5433/tiers"
    assert table.target == '"ops pub"."customer_tiers"'
    assert (table.supports_delete, table._storage()) == (True, " with (fillfactor = 70)")
    outbox = PostgresTable(
        SERVER, TableSpec("events", "change_key", SPEC.columns, OUTBOX_TABLE), config, run_id="r1"
    )
    assert (outbox.supports_delete, outbox._storage()) == (False, "")
    assert "pw-123456" not in table.name + repr(SERVER)


def test_a_batch_of_records_is_sent_as_rows_and_keys_to_delete() -> None:
    batch = Batch(
        ("customer_id", "tier_code"),
        [
            Record("C1", "h", ("C1", "gold")),
            Record("C2", None, (None, None), DELETE),
            Record("C3", "h", ("C3", None)),
        ],
    )
    assert _read(batch) == _Payload(2, [("C1", "gold"), ("C3", None)], ["C2"], dense=False)


def test_a_server_that_cannot_be_reached_makes_the_destination_unavailable() -> None:
    unreachable = Connection("tierwise_postgres", "postgres", host="127.0.0.1", port=9, password="pw-123456")
    table = PostgresTable(unreachable, SPEC, DatabaseConfig(max_retries=1, retry_base_delay=0.0), run_id="r1")
    with pytest.raises(DestinationUnavailableError) as caught:
        table.send(Batch(("customer_id", "tier_code"), [Record("C1", "h", ("C1", "gold"))]))
    message = str(caught.value)
    assert message.startswith("database.customer_tiers@postgres://127.0.0.1:9: ")
    assert "pw-123456" not in message
    assert table.applied == 0
