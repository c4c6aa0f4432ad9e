"""Great Expectations on DuckDB: metrics computed by DuckDB, over one warehouse connection.

GX 1.x has no DuckDB support, and its generic SQL path breaks on duckdb-engine in two ways:

1. Empty metric results (GX issues 10738, 11579). ``SqlAlchemyExecutionEngine.execute_query``
   returns the cursor result *after* leaving ``with engine.connect()``. Leaving the block rolls
   back SQLAlchemy's auto-begun transaction. Other drivers buffer rows in the cursor object, but
   duckdb-engine's cursor *is* the DuckDB connection, so the ROLLBACK replaces the pending result
   and ``fetchall()`` returns ``[]``: every bundled metric fails with ``IndexError``.
   Fix: keep one SQLAlchemy connection open for the life of the engine (what GX already does for
   SQLite and SQL Server), so nothing runs between a query and its fetch.
2. Column reflection. SQLAlchemy 2.1's PostgreSQL reflection joins ``pg_catalog.pg_collation``,
   which DuckDB does not have; GX then falls back to ``SELECT * FROM <table>`` without the schema,
   which fails for any table outside ``main``. Fix: read columns from DuckDB's own catalog.

The execution engine runs on a cursor of a DuckDB connection that the caller opened (one
warehouse connection per gate run: DuckDB has a single writer), bound with :func:`bind_warehouse`.
Importing this module registers the ``tierwise_duckdb`` data source type with GX, so import it
before loading a context whose config uses that type.

Speed: it also registers, for this engine only, two metrics GX computes slowly on DuckDB, each
rewritten to find the same rows: compound-key uniqueness (:class:`_CompoundColumnsCount`) and
sets of strings (:class:`_ValuesInSet`). Together they were most of the raw gate's SQL time.

Personal data: the engine redacts the values of personal columns (``masking.PERSONAL_COLUMNS``)
in every metric it returns (:mod:`tierwise.quality.redaction`, shared with the Spark engine),
so the unexpected-value samples of a format check never reach GX's validation results, Data
Docs, ``ops.quality_results`` or a log line; the row keys (file and line, customer id) stay, so
a failing row can still be found in the warehouse.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from great_expectations.datasource.fluent.sql_datasource import SQLDatasource
from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.metrics.column_map_metrics.column_values_in_set import ColumnValuesInSet
from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_map_metric_provider import (
    ColumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_function_partial import (
    multicolumn_function_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_map_metric_provider import (
    MulticolumnMapMetricProvider,
)
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.pool import NullPool

from tierwise.quality.redaction import RedactingMetrics

# DuckDB type names that differ from the PostgreSQL names duckdb-engine maps.
_TYPE_ALIASES = {"decimal": "numeric", "double": "double precision", "bool": "boolean"}


class WarehouseNotBoundError(RuntimeError):
    """A tierwise_duckdb data source was used outside ``bind_warehouse``."""


@dataclass
class _Binding:
    con: duckdb.DuckDBPyConnection
    variables: dict[str, Any]
    engine: DuckDBExecutionEngine | None = None


_BINDING: ContextVar[_Binding | None] = ContextVar("tierwise_gx_binding", default=None)


def sql_literal(value: Any) -> str:
    """A number or string as a DuckDB literal (SET VARIABLE takes no bound parameters)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def create_engine(con: duckdb.DuckDBPyConnection, variables: dict[str, Any] | None = None) -> sa.Engine:
    """SQLAlchemy engine whose connections are cursors of ``con``, with session ``variables`` set."""

    def cursor() -> ConnectionWrapper:
        # A DuckDB cursor is a separate connection to the same database instance: SQLAlchemy
        # connections never share a result set, and no second file handle is opened.
        # Variables are per connection, so each new cursor gets them.
        new = con.cursor()
        for name, value in (variables or {}).items():
            new.execute(f"set variable {name} = {sql_literal(value)}")
        return ConnectionWrapper(new)

    return sa.create_engine("duckdb://", creator=cursor, poolclass=NullPool)


class _CatalogInspector:
    """SQLAlchemy inspector whose ``get_columns`` reads DuckDB's catalog (see module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._inner = sa.inspect(engine)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_columns(self, table_name: str, schema: str | None = None, **_: Any) -> list[dict[str, Any]]:
        query = sa.text(
            "select column_name, data_type, is_nullable from duckdb_columns()"
            " where table_name = :table and schema_name = coalesce(:schema, current_schema())"
            " order by column_index"
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query, {"table": str(table_name), "schema": schema}).fetchall()
        if not rows:
            raise sa.exc.NoSuchTableError(f"{schema}.{table_name}" if schema else str(table_name))
        dialect = self._engine.dialect
        return [{"name": str(n), "type": sa_type(dialect, str(t)), "nullable": bool(u)} for n, t, u in rows]


def sa_type(dialect: sa.Dialect, duckdb_type: str) -> sa.types.TypeEngine[Any]:
    """SQLAlchemy type for a DuckDB type name such as ``DECIMAL(18,2)``; NullType if unknown."""
    match = re.fullmatch(r"([A-Za-z ]+?)\s*(?:\((\d+)(?:,\s*(\d+))?\))?", duckdb_type.strip())
    if not match:
        return sa.types.NullType()
    base = match.group(1).lower()
    type_class = dialect.ischema_names.get(_TYPE_ALIASES.get(base, base))  # type: ignore[attr-defined]
    if type_class is None:
        return sa.types.NullType()
    if base == "decimal" and match.group(2):
        return sa.Numeric(int(match.group(2)), int(match.group(3) or 0))
    return type_class()  # type: ignore[no-any-return]


class DuckDBExecutionEngine(RedactingMetrics, SqlAlchemyExecutionEngine):
    """SqlAlchemyExecutionEngine that keeps one connection open, so results survive until fetched.

    It also redacts personal data in the metrics it computes (see the module docstring).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # GX picks SQL for regex and type checks from the dialect module; it knows no DuckDB.
        # duckdb-engine's dialect is PostgreSQL's, and DuckDB's `~` / `!~` search like PostgreSQL's.
        self.dialect_module = sa_postgresql

    @contextmanager
    def get_connection(self) -> Generator[sa.Connection, None, None]:
        if self._connection is None or self._connection.closed:
            self._connection = self.engine.connect()
        try:
            yield self._connection
        except Exception:
            # A failed statement aborts DuckDB's transaction; roll back so the next metric can run.
            # A failing rollback must not hide the error that matters.
            with suppress(sa.exc.SQLAlchemyError):
                self._connection.rollback()
            raise

    def get_inspector(self) -> Any:
        if self._inspector is None:
            # Duck-typed stand-in: GX only calls inspector methods, never isinstance().
            self._inspector = _CatalogInspector(self.engine)
        return self._inspector

    def release(self) -> None:
        """Close the persistent connection (and with it the DuckDB cursor)."""
        if self._connection is not None and not self._connection.closed:
            self._connection.close()
        self._connection = None
        self.engine.dispose()


class _CompoundColumnsCount(MulticolumnMapMetricProvider):
    """``compound_columns.count`` on DuckDB: each row's key with a count above 1 only where duplicated.

    GX's SQL version (``CompoundColumnsUnique``) joins every row to the count of every key, a
    hash table as large as the table, and every metric built on it (the unexpected count, then
    the failing rows) groups the whole table again: the costliest queries of the raw gate.
    Here the duplicated keys (``having count(*) > 1``: none in clean data) are found once per
    expectation, by hash first, into a temporary table of the run's connection, and the rows are left-joined
    to it, the others getting a count of 1. The relation is the same row for row: GX's inner
    join drops a row with a NULL in any key column, the ``is not null`` filter here does too, and
    a key's count is the same. So ``expect_compound_columns_to_be_unique`` finds the same rows.
    """

    function_metric_name = "compound_columns.count"

    @multicolumn_function_partial(engine=DuckDBExecutionEngine)  # type: ignore[untyped-decorator]
    def _duckdb_function(cls, column_list: list[Any], **kwargs: Any) -> Any:
        names = kwargs["_column_names"]
        rows = (
            sa.select(*(sa.column(name) for name in kwargs["_table_columns"]))
            .select_from(kwargs["_table"])
            .where(*(sa.column(name).is_not(None) for name in names))
            .alias("original_table_clause")
        )
        keys = [rows.c[name] for name in names]
        # Grouping one 64-bit hash per row is far cheaper than grouping the key's strings; only
        # the rows of a repeated hash (the duplicates, and any collision) are grouped by key.
        digest = sa.func.hash(*keys)
        repeated = sa.select(digest).select_from(rows).group_by(digest).having(sa.func.count() > 1)
        duplicated = _materialized(
            sa.select(*keys, sa.func.count().label("_num_rows"))
            .where(digest.in_(repeated.scalar_subquery()))
            .group_by(*keys)
            .having(sa.func.count() > 1),
            kwargs["_sqlalchemy_engine"],
        )
        keys_match = sa.and_(*(duplicated.c[name] == rows.c[name] for name in names))
        return (
            sa.select(rows, sa.func.coalesce(duplicated.c._num_rows, 1).label("_num_rows"))
            .select_from(rows.outerjoin(duplicated, keys_match))
            .alias("records_with_grouped_column_counts_subquery")
        )


class _ValuesInSet(ColumnMapMetricProvider):
    """``column_values.in_set`` on DuckDB: a set of strings is looked up by hash, not compared in turn.

    GX writes ``column in (v1, ..., vn)``, which DuckDB evaluates as n comparisons per row (170
    currencies: most of the raw gate's one aggregate scan of the orders). ``column in (select
    value from (values ...))`` is a hash lookup with the same three-valued result (``None``
    values are dropped first, as GX does). Other value sets keep GX's SQL.
    """

    condition_metric_name = "column_values.in_set"
    condition_value_keys = ("value_set",)

    @column_condition_partial(engine=DuckDBExecutionEngine)
    def _duckdb(cls, column: Any, value_set: Any, **kwargs: Any) -> Any:
        values = [value for value in value_set or () if value is not None]
        if not values or not all(isinstance(value, str) for value in values):
            stock: Any = ColumnValuesInSet  # untyped
            return stock._sqlalchemy_impl(column, value_set, **kwargs)
        listed = sa.values(sa.column("value", sa.String), name="value_set").data([(v,) for v in values])
        return column.in_(sa.select(listed.c.value).scalar_subquery())


def _materialized(query: sa.Select[Any], engine: sa.Engine) -> sa.FromClause:
    """``query`` computed once into a temporary table of the bound run's connection.

    Temporary tables belong to one DuckDB connection: the run's persistent connection holds it
    (and the snapshot every metric reads) until ``release`` closes it. Outside a bound run (an
    engine GX made itself), the query stays a subquery.
    """
    bound = bound_execution_engine()
    if bound is None or bound.engine is not engine:
        return query.alias("group_counts_subquery")
    name = f"tw_duplicated_keys_{uuid.uuid4().hex}"
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    with bound.get_connection() as connection:
        connection.execute(sa.text(f"create temporary table {name} as {compiled}"))
    return sa.table(name, *(sa.column(column.name) for column in query.selected_columns)).alias(
        "group_counts_subquery"
    )


class TierwiseDuckDBDatasource(SQLDatasource):
    """GX data source for one schema of the Tierwise warehouse, bound at run time.

    The connection is not in the config: :func:`bind_warehouse` supplies the open warehouse
    connection, so a gate run opens the DuckDB file exactly once.
    """

    type: Literal["tierwise_duckdb"] = "tierwise_duckdb"  # type: ignore[assignment]
    connection_string: str = "duckdb:///bound-at-run-time"
    database_schema: str

    @property
    def schema_(self) -> str | None:
        return self.database_schema

    def get_engine(self) -> sa.Engine:
        return self.get_execution_engine().engine

    def get_execution_engine(self) -> DuckDBExecutionEngine:
        binding = _BINDING.get()
        if binding is None:
            raise WarehouseNotBoundError(f"data source {self.name!r} used outside gx_duckdb.bind_warehouse()")
        if binding.engine is None:
            # create_temp_table=False: GX would otherwise copy each table into a temp table first.
            engine = create_engine(binding.con, binding.variables)
            binding.engine = DuckDBExecutionEngine(engine=engine, create_temp_table=False)
        # One engine (one open transaction) per run: every suite of a gate sees the same snapshot.
        return binding.engine


@contextmanager
def bind_warehouse(con: duckdb.DuckDBPyConnection, variables: dict[str, Any] | None = None) -> Iterator[None]:
    """Make ``tierwise_duckdb`` data sources compute on ``con`` inside this block.

    ``variables`` become DuckDB session variables of GX's connection (``getvariable(name)``).
    """
    binding = _Binding(con, dict(variables or {}))
    token = _BINDING.set(binding)
    try:
        yield
    finally:
        _BINDING.reset(token)
        if binding.engine is not None:
            binding.engine.release()


def bound_execution_engine() -> DuckDBExecutionEngine | None:
    """The execution engine of the active binding, if a data source has created one."""
    binding = _BINDING.get()
    return binding.engine if binding else None
