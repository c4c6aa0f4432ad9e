"""The publish entry point: which destinations run, which are skipped, and what a failure carries.

The warehouse is a small synthetic one (tests/fakes/warehouse.py) in a temp folder.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.fakes.warehouse import build_marts
from tests.support import run_context

from tierwise.exceptions import PublishError
from tierwise.publish import DESTINATION_NAMES, publish
from tierwise.publish.config import CrmConfig, PublishConfig
from tierwise.publish.errors import PublishFailedError
from tierwise.publish.postgres import PostgresTable
from tierwise.publish.service import PublishContext, build_crm, build_database, build_notifications
from tierwise.publish.sqlite import SqliteTable

AS_OF = date(2024, 1, 31)
NO_RETRIES = PublishConfig(crm=CrmConfig(max_retries=0, timeout_seconds=2.0))


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_marts(tmp_path / "warehouse.duckdb", customers=12, as_of=AS_OF)


def context(con: duckdb.DuckDBPyConnection, home: Path) -> PublishContext:
    return PublishContext(con, AS_OF, "r1", PublishConfig(), home / "publish")


def test_the_destinations_are_the_known_four() -> None:
    assert DESTINATION_NAMES == ("files", "database", "crm", "notifications")


def test_unknown_destinations_and_a_missing_warehouse_are_refused(tmp_path: Path) -> None:
    ctx = run_context("r1", warehouse=tmp_path / "missing.duckdb")
    with pytest.raises(
        PublishError, match=r"^unknown destination\(s\) fax; known: files, database, crm, notifications$"
    ):
        publish(["files", "fax"], ctx)
    with pytest.raises(PublishError, match=r"missing\.duckdb does not exist: run ingest and build first"):
        publish(["files"], ctx)


def test_without_postgresql_the_database_is_a_local_sqlite_file(warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        streams = build_database(context(con, tmp_path))
        assert not isinstance(streams, str)
        assert [type(destination) for _, destination in streams] == [SqliteTable, SqliteTable]
        assert [destination.name for _, destination in streams] == [
            "database.customer_tiers@sqlite:operational.sqlite",
            "database.tier_change_events@sqlite:operational.sqlite",
        ]
        assert {destination.path for _, destination in streams} == {
            tmp_path / "publish" / "operational.sqlite"
        }
        con.execute("drop table marts.tier_changes")
        without_changes = build_database(context(con, tmp_path))
        assert not isinstance(without_changes, str) and len(without_changes) == 1


def test_a_postgres_connection_makes_postgresql_tables(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_POSTGRES", "postgresql://app@db.example:5433/tiers")
    with duckdb.connect(str(warehouse)) as con:
        streams = build_database(context(con, tmp_path))
    assert not isinstance(streams, str)
    assert [destination.name for _, destination in streams] == [
        "database.customer_tiers@postgres://db.example:5433/tiers",
        "database.tier_change_events@postgres://db.example:5433/tiers",
    ]
    assert all(isinstance(destination, PostgresTable) for _, destination in streams)


def test_unconfigured_channels_are_skipped_with_the_variable_to_set(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with duckdb.connect(str(warehouse)) as con:
        ctx = context(con, tmp_path)
        assert build_crm(ctx) == "connection tierwise_crm is not configured (set AIRFLOW_CONN_TIERWISE_CRM)"
        assert build_notifications(ctx) == (
            "connection tierwise_webhook is not configured (set AIRFLOW_CONN_TIERWISE_WEBHOOK) and "
            "connection tierwise_smtp is not configured (set AIRFLOW_CONN_TIERWISE_SMTP)"
        )
        monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_CRM", "https://crm.example?provider=salesforce")
        with pytest.raises(
            PublishError, match=r"crm: provider 'salesforce' is not supported \(known: hubspot\)"
        ):
            build_crm(ctx)
        monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_WEBHOOK", "https://hooks.example/tiers")
        con.execute("drop table marts.tier_changes")
        assert (
            build_notifications(context(con, tmp_path)) == "notifications: marts.tier_changes does not exist"
        )


def test_a_failed_destination_fails_the_publish_after_the_others_published(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_CRM", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(PublishFailedError) as caught:
        publish(["files", "crm", "notifications"], run_context("r1", warehouse=warehouse), config=NO_RETRIES)
    report = caught.value.report
    assert [(stream.stream, stream.status) for stream in report.streams] == [
        ("files.customer_tiers", "ok"),
        ("crm.hubspot.contacts@http://127.0.0.1:9", "failed"),
    ]
    assert report.skipped == (
        "notifications: connection tierwise_webhook is not configured (set AIRFLOW_CONN_TIERWISE_WEBHOOK) "
        "and connection tierwise_smtp is not configured (set AIRFLOW_CONN_TIERWISE_SMTP)",
    )
    assert str(caught.value).startswith(
        "publish failed for 1 stream(s): crm.hubspot.contacts@http://127.0.0.1:9: "
    )
    assert len(list((tmp_path / "publish" / "files").glob("customer_tiers_*"))) == 3
