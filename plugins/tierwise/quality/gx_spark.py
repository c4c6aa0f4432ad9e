"""Great Expectations on Spark: the gates' suites computed by GX's Spark execution engine.

On the Spark engine the validated tables are in Spark's catalog (see ``tierwise.engine.spark``).
GX's own Spark support does the work: a ``tierwise_spark`` data source is GX's
``SparkDatasource`` with dataframe assets, one per table, each batch the DataFrame
``spark.table(<schema.table>)`` handed in as the ``dataframe`` batch parameter
(:func:`batch_parameters`), so every metric, and every SQL check (``UnexpectedRowsExpectation``,
run by GX through ``spark.sql`` over a temporary view of the batch), is computed by Spark.
Three things are added by hand, and are why this module exists:

1. The session. GX's ``SparkDatasource`` finds its session with ``builder.getOrCreate()``,
   which on a machine with no default session would start a local JVM, not reach the Connect
   server the engine configured; :func:`bind_session` hands GX the engine's session instead
   (as ``gx_duckdb.bind_warehouse`` hands it the warehouse connection). The committed config
   thus holds no Spark address: the same project runs against a local server or a cluster.
2. Redaction of personal data in every metric the engine resolves, exactly as on DuckDB
   (:mod:`tierwise.quality.redaction`): GX's unexpected-value samples of a format check would
   otherwise carry e-mails and phones into validation results, Data Docs and logs.
3. ``getvariable()``. The SQL checks are written once (``suites.py``) and read the run's
   scalar parameters with DuckDB's ``getvariable('tw_<name>')``. Spark 4 has no such function,
   so :func:`bind_session` defines a temporary SQL function of that name in the session,
   returning each numeric parameter as a DOUBLE and raising for any other name (a NULL bound
   would silently pass a check). It is dropped when the gate run ends. The committed query
   text is what GX runs on both engines (GX refuses a suite changed in memory anyway).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from great_expectations.datasource.fluent.spark_datasource import SparkDatasource
from great_expectations.execution_engine.sparkdf_execution_engine import SparkDFExecutionEngine

from tierwise.quality.redaction import RedactingMetrics

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

VARIABLE_FUNCTION = "getvariable"
# The temporary view GX's query metrics register the batch under (query_table.py, query_row_count.py).
_GX_BATCH_VIEW = "tmp_view"


class SessionNotBoundError(RuntimeError):
    """A tierwise_spark data source was used outside ``bind_session``."""


class TierwiseSparkExecutionEngine(RedactingMetrics, SparkDFExecutionEngine):
    """GX's Spark execution engine, redacting personal data in the metrics it computes."""


@dataclass
class _Binding:
    spark: SparkSession
    engine: TierwiseSparkExecutionEngine | None = None
    frames: list[DataFrame] = field(default_factory=list)


_BINDING: ContextVar[_Binding | None] = ContextVar("tierwise_gx_spark_binding", default=None)


def _bound(user: str) -> _Binding:
    binding = _BINDING.get()
    if binding is None:
        raise SessionNotBoundError(f"{user} used outside gx_spark.bind_session()")
    return binding


class TierwiseSparkDatasource(SparkDatasource):
    """GX's Spark data source on the session bound at run time (see the module docstring)."""

    type: Literal["tierwise_spark"] = "tierwise_spark"  # type: ignore[assignment]

    @property
    def execution_engine_type(self) -> builtins.type[TierwiseSparkExecutionEngine]:
        return TierwiseSparkExecutionEngine

    def get_spark(self) -> SparkSession:
        return _bound(f"data source {self.name!r}").spark

    def get_execution_engine(self) -> TierwiseSparkExecutionEngine:
        binding = _bound(f"data source {self.name!r}")
        if binding.engine is None:
            # persist: the batch is cached while GX computes its metric batches on it.
            binding.engine = TierwiseSparkExecutionEngine(spark=binding.spark, persist=self.persist)
        return binding.engine

    def test_connection(self, test_assets: bool = True) -> None:
        """Nothing to test before a run binds the session (the project is written without Spark)."""


def sql_double(value: float) -> str:
    """A finite number as a Spark SQL DOUBLE."""
    return f"cast({float(value)!r} as double)"


def variable_function(variables: Mapping[str, Any]) -> str:
    """``CREATE TEMPORARY FUNCTION getvariable``: each numeric variable's value by its name."""
    numbers = {
        name: value
        for name, value in variables.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    for name in numbers:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a variable name: {name!r}")
    cases = " ".join(f"when '{name}' then {sql_double(value)}" for name, value in sorted(numbers.items()))
    # An unknown name (or a non-numeric parameter) is an error, never NULL: a NULL bound passes.
    refuse = "raise_error('getvariable: no numeric run parameter named ' || name)"
    body = f"case name {cases} else {refuse} end" if cases else refuse
    return (
        f"create or replace temporary function {VARIABLE_FUNCTION}(name string) returns double return {body}"
    )


@contextmanager
def bind_session(spark: SparkSession, variables: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Make ``tierwise_spark`` data sources compute on ``spark`` inside this block.

    ``variables`` (``tw_<name>`` -> value) are what ``getvariable()`` returns in the SQL checks.
    """
    spark.sql(variable_function(dict(variables or {})))
    binding = _Binding(spark)
    token = _BINDING.set(binding)
    try:
        yield
    finally:
        _BINDING.reset(token)
        # The session outlives the run (one per process): leave none of the run's state in it,
        # and let no clean-up error hide the run's own.
        cleanups: list[Callable[[], object]] = [frame.unpersist for frame in binding.frames]
        cleanups.append(lambda: spark.catalog.dropTempView(_GX_BATCH_VIEW))
        cleanups.append(lambda: spark.sql(f"drop temporary function if exists {VARIABLE_FUNCTION}"))
        for cleanup in cleanups:
            with suppress(Exception):
                cleanup()


def batch_parameters(table: str) -> dict[str, Any]:
    """The batch parameters of a dataframe asset validating ``table`` (``schema.table``)."""
    binding = _bound(f"table {table!r}")
    frame = binding.spark.table(table)
    binding.frames.append(frame)
    return {"dataframe": frame}


def sample_rows(query: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of a SQL check's query (``{batch}`` replaced by the table)."""
    spark = _bound("sample_rows").spark
    rows = spark.sql(f"select * from ({query}) as failing limit {int(limit)}").collect()
    return [row.asDict() for row in rows]
