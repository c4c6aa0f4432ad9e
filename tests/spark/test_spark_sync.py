"""The raw layer handed from the DuckDB ledger to Spark: only changed loads travel, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tierwise.engine.spark import session_for
from tierwise.engine.spark_server import LocalServer
from tierwise.engine.spark_sync import fetch_marts, sync_table

TABLE = "raw.orders"


@pytest.fixture
def ledger(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "ledger.duckdb"))
    con.execute("create schema raw; create schema ops")
    con.execute(
        "create table raw.orders as select 'o' || i as order_id, (i * 1.25)::decimal(18, 2) as amount, "
        "timestamp '2025-01-01 10:00:00' + to_days(i) as ordered_at, "
        "'file_' || (i % 3) || '.csv' as _source_file, "
        "timestamp '2026-01-01 06:00:00.000001' + to_hours(i % 3) as _loaded_at "
        "from range(30) as t(i)"
    )
    return con


def _spark_rows(server: LocalServer) -> list[tuple[object, ...]]:
    # Spark's table has the load key as its partition column, last: the ledger has no such column.
    rows = session_for(server.url).sql(f"select * except (_load) from {TABLE} order by order_id").collect()
    return [tuple(row) for row in rows]


def _ledger_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(f"select * from {TABLE} order by order_id").fetchall()


def test_first_sync_sends_every_load_then_nothing(
    ledger: duckdb.DuckDBPyConnection, spark_catalog: LocalServer
) -> None:
    spark = session_for(spark_catalog.url)
    assert sync_table(ledger, spark, TABLE) == {
        "partitions_sent": 3,
        "partitions_dropped": 0,
        "rows_sent": 30,
    }
    assert _spark_rows(spark_catalog) == _ledger_rows(ledger)
    partitions = {row[0] for row in spark.sql(f"show partitions {TABLE}").collect()}
    loads = ("20260101T060000.000001", "20260101T070000.000001", "20260101T080000.000001")
    assert partitions == {f"_load={load}" for load in loads}
    assert sync_table(ledger, spark, TABLE) == {"partitions_sent": 0, "partitions_dropped": 0, "rows_sent": 0}


def test_a_changed_load_is_replaced_and_a_gone_one_dropped(
    ledger: duckdb.DuckDBPyConnection, spark_catalog: LocalServer
) -> None:
    spark = session_for(spark_catalog.url)
    sync_table(ledger, spark, TABLE)
    # A re-pointed file (same content, new path) and a file whose rows left the ledger.
    ledger.execute(f"update {TABLE} set _source_file = 'moved/file_1.csv' where _source_file = 'file_1.csv'")
    ledger.execute(f"delete from {TABLE} where _source_file = 'file_2.csv'")
    assert sync_table(ledger, spark, TABLE) == {
        "partitions_sent": 1,
        "partitions_dropped": 1,
        "rows_sent": 10,
    }
    assert _spark_rows(spark_catalog) == _ledger_rows(ledger)


def test_a_table_spark_lost_is_sent_again(
    ledger: duckdb.DuckDBPyConnection, spark_catalog: LocalServer
) -> None:
    spark = session_for(spark_catalog.url)
    sync_table(ledger, spark, TABLE)
    spark.sql(f"drop table {TABLE}")
    assert sync_table(ledger, spark, TABLE)["rows_sent"] == 30
    assert _spark_rows(spark_catalog) == _ledger_rows(ledger)


def test_an_empty_raw_table_exists_on_spark(
    ledger: duckdb.DuckDBPyConnection, spark_catalog: LocalServer
) -> None:
    spark = session_for(spark_catalog.url)
    ledger.execute(f"delete from {TABLE}")
    assert sync_table(ledger, spark, TABLE)["rows_sent"] == 0
    assert spark.table(TABLE).columns == [
        "order_id",
        "amount",
        "ordered_at",
        "_source_file",
        "_loaded_at",
        "_load",
    ]
    assert spark.table(TABLE).count() == 0


def test_marts_come_back_whole_with_duckdb_types(
    ledger: duckdb.DuckDBPyConnection, spark_catalog: LocalServer
) -> None:
    spark = session_for(spark_catalog.url)
    spark.sql("create schema marts")
    spark.sql(
        "create table marts.customer_tiers using parquet as select 'c1' as customer_id, "
        "cast(12.5 as decimal(18, 2)) as measure_value, timestamp '2025-12-31 23:59:59' as built_at"
    )
    ledger.execute("create schema marts; create table marts.customer_tiers as select 'stale' as customer_id")
    assert fetch_marts(ledger, spark) == {"customer_tiers": 1}
    described = ledger.execute("describe marts.customer_tiers").fetchall()
    assert [(row[0], row[1]) for row in described] == [
        ("customer_id", "VARCHAR"),
        ("measure_value", "DECIMAL(18,2)"),
        ("built_at", "TIMESTAMP"),
    ]
    assert ledger.execute("select built_at::varchar from marts.customer_tiers").fetchone() == (
        "2025-12-31 23:59:59",
    )
