"""Moving tables between the DuckDB ledger and Spark (see :mod:`tierwise.engine.spark`).

Raw, ledger to Spark: each raw table is a Parquet table in Spark partitioned by load: column
``_load``, the load time (``_loaded_at``, one per ingest run) as text, which Spark has and the
ledger does not. A first load of two years of daily files is one partition, a daily run adds
one; a partition per file would make thousands of small ones, each a metastore entry. A
partition is sent again only when its rows changed in the ledger (a reloaded file leaves its
earlier load; a moved one is re-pointed), found by comparing a fingerprint per partition (row
count and the sum of the rows' hashes) with the one recorded at its last send in
``ops.spark_raw_sync``; partitions gone from the ledger are dropped from Spark, and a partition
Spark lost (a new Spark warehouse) is sent again. Rows travel as Arrow over Spark Connect, so a
cluster needs no storage shared with the machine that ingests.

Marts, Spark to ledger: after a build every table of Spark's ``marts`` schema replaces its copy
in the ledger in one transaction, so readers see one build's marts, never a mix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from tierwise.engine.base import fetch_all, table_exists, transaction

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

PARTITION = "_load"
# The partition key of a ledger row: its load time to the microsecond, as text.
LOAD_KEY = "coalesce(strftime(_loaded_at, '%Y%m%dT%H%M%S.%f'), 'none')"
SYNC_STATE = "ops.spark_raw_sync"
MARTS = "marts"
# Rows per Arrow batch sent over Spark Connect (its messages are limited to 128 MB).
BATCH_ROWS = 200_000


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fingerprints(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[int, str]]:
    rows = fetch_all(
        con,
        f"select {LOAD_KEY}, count(*), sum(hash(t)::hugeint)::varchar from {table} as t group by 1",
    )
    return {str(key): (int(count), str(digest)) for key, count, digest in rows}


def _recorded(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[int, str]]:
    con.execute(
        f"create table if not exists {SYNC_STATE} "
        "(table_name varchar, partition_key varchar, row_count bigint, digest varchar, synced_at timestamp)"
    )
    rows = fetch_all(
        con, f"select partition_key, row_count, digest from {SYNC_STATE} where table_name = ?", [table]
    )
    return {str(key): (int(count), str(digest)) for key, count, digest in rows}


def _spark_partitions(spark: SparkSession, table: str) -> set[str] | None:
    """The partition keys Spark has for ``table``; None when the table does not exist."""
    if not spark.catalog.tableExists(table):
        return None
    found = set()
    for row in spark.sql(f"show partitions {table}").collect():
        _, _, value = str(row[0]).partition("=")
        found.add(_unescape(value))
    return found


def _unescape(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def _send(
    con: duckdb.DuckDBPyConnection, spark: SparkSession, table: str, keys: Sequence[str], create: bool
) -> int:
    """Append the ledger's rows of partitions ``keys`` to Spark's ``table``; the rows sent."""
    result = con.execute(
        f"select *, {LOAD_KEY} as {PARTITION} from {table} where {LOAD_KEY} in (select unnest(?::varchar[]))",
        [list(keys)],
    )
    reader = result.to_arrow_reader(BATCH_ROWS)
    assert reader is not None  # a select always has a result
    sent = 0
    for batch in reader:
        frame = spark.createDataFrame(pa.Table.from_batches([batch]))
        if create:
            frame.write.format("parquet").partitionBy(PARTITION).saveAsTable(table)
            create = False
        else:
            frame.write.insertInto(table)
        sent += batch.num_rows
    if create:  # no rows at all: the table still exists for dbt to read, empty
        from pyspark.sql.pandas.types import from_arrow_schema

        empty = spark.createDataFrame([], schema=from_arrow_schema(reader.schema))
        empty.write.format("parquet").partitionBy(PARTITION).saveAsTable(table)
    return sent


def _drop(spark: SparkSession, table: str, keys: Iterable[str]) -> None:
    keys = sorted(keys)
    for start in range(0, len(keys), 100):
        specs = ", ".join(f"partition ({PARTITION} = {_literal(key)})" for key in keys[start : start + 100])
        spark.sql(f"alter table {table} drop if exists {specs}")


def sync_table(con: duckdb.DuckDBPyConnection, spark: SparkSession, table: str) -> dict[str, int]:
    """Bring Spark's ``table`` in line with the ledger's, sending only partitions that changed."""
    schema = table.split(".")[0]
    spark.sql(f"create schema if not exists {schema}")
    current = _fingerprints(con, table)
    recorded = _recorded(con, table)
    present = _spark_partitions(spark, table)
    create = present is None
    present = present or set()
    changed = sorted(key for key, fp in current.items() if recorded.get(key) != fp or key not in present)
    gone = sorted(present - set(current))
    _drop(spark, table, [*gone, *(key for key in changed if key in present)])
    sent = _send(con, spark, table, changed, create) if changed or create else 0
    with transaction(con):
        con.execute(f"delete from {SYNC_STATE} where table_name = ?", [table])
        rows = [[table, key, count, digest] for key, (count, digest) in current.items()]
        if rows:
            con.executemany(f"insert into {SYNC_STATE} values (?, ?, ?, ?, now()::timestamp)", rows)
    return {"partitions_sent": len(changed), "partitions_dropped": len(gone), "rows_sent": sent}


def sync_raw(con: duckdb.DuckDBPyConnection, spark: SparkSession, tables: Sequence[str]) -> dict[str, Any]:
    """:func:`sync_table` for each raw table of the ledger named in ``tables``."""
    report = {}
    for table in tables:
        schema, name = table.split(".")
        if table_exists(con, schema, name):
            report[table] = sync_table(con, spark, table)
            log.info("spark: %s %s", table, report[table])
    return report


def _naive_utc(frame: pa.Table) -> pa.Table:
    """Spark's timestamps (instants, shown in the session's UTC) as DuckDB's TIMESTAMP, in UTC."""
    schema = pa.schema(
        field.with_type(pa.timestamp(field.type.unit))
        if pa.types.is_timestamp(field.type) and field.type.tz
        else field
        for field in frame.schema
    )
    return frame.cast(schema)


def fetch_marts(con: duckdb.DuckDBPyConnection, spark: SparkSession) -> dict[str, Any]:
    """Replace the ledger's marts with Spark's, all in one transaction; the rows per table."""
    names = sorted(t.name for t in spark.catalog.listTables(MARTS) if not t.isTemporary)
    frames = {name: _naive_utc(spark.table(f"{MARTS}.{_quote(name)}").toArrow()) for name in names}
    con.execute(f"create schema if not exists {MARTS}")
    with transaction(con):
        for name, frame in frames.items():
            con.register("tierwise_spark_frame", frame)
            con.execute(f'create or replace table {MARTS}."{name}" as select * from tierwise_spark_frame')
            con.unregister("tierwise_spark_frame")
    return {name: frame.num_rows for name, frame in frames.items()}
