"""Where a gate's tables are: the DuckDB warehouse, or Spark's catalog on the Spark engine.

The gate runner and the run parameters read the validated tables through :class:`Tables`
(does a table exist, what does a query return); the ledger (``ops.*``) is always DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from tierwise.engine import fetch_all, table_exists

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class Tables(Protocol):
    """Read access to the tables a gate validates, in the engine's SQL dialect."""

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """What a failing query raises (a bad query in thresholds.yml, say)."""
        ...

    def exists(self, schema: str, table: str) -> bool: ...

    def rows(self, query: str) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class DuckDBTables:
    """The tables of a DuckDB warehouse connection."""

    con: duckdb.DuckDBPyConnection

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        return (duckdb.Error,)

    def exists(self, schema: str, table: str) -> bool:
        return table_exists(self.con, schema, table)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return fetch_all(self.con, query)


@dataclass(frozen=True)
class SparkTables:
    """The tables of Spark's catalog, through a Spark Connect session."""

    spark: SparkSession

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        from pyspark.errors import PySparkException

        return (PySparkException,)

    def exists(self, schema: str, table: str) -> bool:
        return bool(self.spark.catalog.tableExists(f"{schema}.{table}"))

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.spark.sql(query).collect()]


def tables_of(source: Tables | duckdb.DuckDBPyConnection) -> Tables:
    """``source`` as :class:`Tables` (a DuckDB connection is the warehouse it opens)."""
    return DuckDBTables(source) if isinstance(source, duckdb.DuckDBPyConnection) else source
