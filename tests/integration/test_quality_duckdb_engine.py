"""The GX-on-DuckDB adapter: the upstream bug, the fix, and that metrics are computed by DuckDB.

Real GX and DuckDB throughout; an ephemeral GX context over a temp DuckDB file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

ROWS = 50_000


def _make_warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        # A table outside the main schema: GX's reflection fallback drops the schema.
        con.execute("create schema raw")
        con.execute(
            f"""create table raw.orders as
            select 'O' || i as order_id, (i % 1000)::decimal(18, 2) as gross_amount,
                   case when i % 10 = 0 then null else 'EUR' end as currency,
                   case when i % 4 = 0 then 'bad@' else 'c' || i || '@example.com' end as email
            from range({ROWS}) as t(i)"""
        )
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_warehouse(tmp_path_factory.mktemp("gx_duckdb") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def stock_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Its own file: duckdb-engine's pooled connections would pin a different DuckDB config.
    return _make_warehouse(tmp_path_factory.mktemp("gx_stock") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def gx() -> Any:
    import great_expectations

    return great_expectations


def _validate(batch: Any, expectation: Any) -> Any:
    return batch.validate(
        expectation, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 3}
    )


def test_stock_sql_datasource_returns_no_metrics_on_duckdb_engine(gx: Any, stock_warehouse: Path) -> None:
    """The bug the adapter exists for (GX issues 10738, 11579); if this fails, GX fixed it."""
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(name="stock", connection_string=f"duckdb:///{stock_warehouse}")
    batch = (
        source.add_query_asset(name="orders", query="select * from raw.orders")
        .add_batch_definition_whole_table("all")
        .get_batch()
    )
    result = _validate(batch, gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    assert result.success is False and result.result == {}
    messages = [str(info.get("exception_message")) for info in result.exception_info.values()]
    assert any("list index out of range" in message for message in messages)


def test_fetch_after_connection_close_is_empty_on_duckdb_engine(stock_warehouse: Path) -> None:
    """The root cause: leaving `with engine.connect()` rolls back, which drops DuckDB's pending rows."""
    engine = sa.create_engine(f"duckdb:///{stock_warehouse}")
    with engine.connect() as connection:
        result = connection.execute(sa.text("select count(*) from raw.orders"))
    assert result.fetchall() == []
    engine.dispose()


def _raw_batch(gx: Any, table: str) -> Any:
    """The whole of ``raw.<table>`` through a tierwise_duckdb source (inside bind_warehouse)."""
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_tierwise_duckdb(name="raw", database_schema="raw")
    asset = source.add_table_asset(name=table, table_name=table)
    return asset.add_batch_definition_whole_table("all").get_batch()


@pytest.fixture(scope="module")
def bound(gx: Any, warehouse: Path) -> Iterator[tuple[Any, duckdb.DuckDBPyConnection]]:
    from tierwise.quality.gx_duckdb import bind_warehouse

    with duckdb.connect(str(warehouse)) as con, bind_warehouse(con, {"tw_limit": 998}):
        yield _raw_batch(gx, "orders"), con


def test_adapter_returns_the_metrics_duckdb_computes(
    gx: Any, bound: tuple[Any, duckdb.DuckDBPyConnection]
) -> None:
    batch, con = bound
    expected = con.execute(
        "select count(*), max(gross_amount), count(*) - count(currency),"
        " count(*) filter (where email = 'bad@') from raw.orders"
    ).fetchone()
    assert expected is not None
    rows, max_amount, null_currency, bad_emails = expected
    gxe = gx.expectations
    assert _validate(batch, gxe.ExpectTableRowCountToBeBetween(min_value=1)).result["observed_value"] == rows
    max_result = _validate(batch, gxe.ExpectColumnMaxToBeBetween(column="gross_amount", max_value=100))
    assert (max_result.success, max_result.result["observed_value"]) == (False, float(max_amount))
    nulls = _validate(batch, gxe.ExpectColumnValuesToNotBeNull(column="currency"))
    assert nulls.result["unexpected_count"] == null_currency
    regex = _validate(
        batch, gxe.ExpectColumnValuesToMatchRegex(column="email", regex=r"^[^@]+@[^@]+\.[a-z]+$")
    )
    assert regex.result["unexpected_count"] == bad_emails
    # email is a personal column: the engine hands GX a token per value, never the value.
    sample = regex.result["partial_unexpected_list"]
    assert len(sample) == 3 and len(set(sample)) == 1 and sample[0].startswith("<email:")


def test_sql_checks_read_session_variables(gx: Any, bound: tuple[Any, duckdb.DuckDBPyConnection]) -> None:
    batch, _ = bound
    query = "select * from {batch} where gross_amount > getvariable('tw_limit')"
    result = _validate(batch, gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query=query))
    assert result.result["observed_value"] == ROWS // 1000  # one 999 per thousand rows


def test_a_failing_metric_does_not_poison_the_next(
    gx: Any, bound: tuple[Any, duckdb.DuckDBPyConnection]
) -> None:
    batch, _ = bound
    broken = _validate(
        batch, gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query="select nope from {batch}")
    )
    assert broken.exception_info and not broken.success
    after = _validate(batch, gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    assert after.success and after.result["observed_value"] == ROWS


def test_metrics_are_computed_in_duckdb_not_fetched(
    gx: Any, bound: tuple[Any, duckdb.DuckDBPyConnection]
) -> None:
    """Every statement GX sends aggregates or is capped by LIMIT: no full table is pulled into Python."""
    from tierwise.quality.gx_duckdb import DuckDBExecutionEngine, bound_execution_engine

    batch, _ = bound
    engine = bound_execution_engine()
    assert isinstance(engine, DuckDBExecutionEngine)
    statements: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.lower().split()))

    sa.event.listen(engine.engine, "before_cursor_execute", before)
    try:
        gxe = gx.expectations
        for expectation in (
            gxe.ExpectColumnValuesToBeUnique(column="order_id"),
            gxe.ExpectColumnValuesToBeInSet(column="currency", value_set=["EUR"]),
            gxe.ExpectColumnMeanToBeBetween(column="gross_amount", min_value=0),
        ):
            assert _validate(batch, expectation).success
    finally:
        sa.event.remove(engine.engine, "before_cursor_execute", before)
    on_table = [s for s in statements if "raw.orders" in s]
    assert on_table
    for statement in on_table:
        assert any(word in statement for word in ("count(", "sum(", "avg(", "max(", "min(", " limit ")), (
            statement
        )


def test_duckdb_type_names_map_to_sqlalchemy_types(warehouse: Path) -> None:
    from tierwise.quality.gx_duckdb import create_engine, sa_type, sql_literal

    with duckdb.connect(str(warehouse)) as con:
        dialect = create_engine(con).dialect
    numeric = sa_type(dialect, "DECIMAL(18,2)")
    assert isinstance(numeric, sa.Numeric) and (numeric.precision, numeric.scale) == (18, 2)
    assert isinstance(sa_type(dialect, "TIMESTAMP"), sa.TIMESTAMP)
    assert isinstance(sa_type(dialect, "VARCHAR"), sa.String)
    assert isinstance(sa_type(dialect, "VARCHAR[]"), sa.types.NullType)
    assert [sql_literal(v) for v in (0.3, 7, True, "it's")] == ["0.3", "7", "true", "'it''s'"]


VERSIONS = """
create schema raw;
create table raw.versions as
select * from (values
    ('a.csv', 'O1', 1, 1), ('a.csv', 'O1', 1, 2),                         -- unique
    ('a.csv', 'O2', 1, 1), ('a.csv', 'O2', 1, 1),                         -- twice
    ('b.csv', 'O3', 1, 1), ('b.csv', 'O3', 1, 1), ('b.csv', 'O3', 1, 1),  -- three times
    ('a.csv', 'O3', 1, 1),                                                -- same key, other file
    ('b.csv', null, 1, 1), ('b.csv', null, 1, 1),                         -- NULL in the key
    (null, null, null, null), (null, null, null, null)                    -- all NULL: ignored
) as v(_source_file, order_id, line_no, version)
"""


def test_compound_uniqueness_counts_what_gx_counts(gx: Any, tmp_path: Path) -> None:
    """The DuckDB compound_columns.count (duplicated keys only) finds the rows GX's join finds.

    GX's SQL metric inner-joins each row to its key's count: a row with a NULL in its key
    matches nothing, so it is never a duplicate; rows whose whole key is NULL are ignored.
    """
    from tierwise.quality.gx_duckdb import bind_warehouse

    with duckdb.connect(str(tmp_path / "versions.duckdb")) as con, bind_warehouse(con):
        con.execute(VERSIONS)
        result = _raw_batch(gx, "versions").validate(
            gx.expectations.ExpectCompoundColumnsToBeUnique(
                column_list=["_source_file", "order_id", "line_no", "version"]
            ),
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["order_id"]},
        )
    assert not result.success
    assert (result.result["element_count"], result.result["missing_count"]) == (12, 2)
    assert result.result["unexpected_count"] == 5
    keys = sorted(tuple(row.values()) for row in result.result["unexpected_list"])
    assert keys == [*[("a.csv", "O2", 1, 1)] * 2, *[("b.csv", "O3", 1, 1)] * 3]


def test_a_set_of_strings_is_checked_as_gx_checks_it(gx: Any, tmp_path: Path) -> None:
    """The DuckDB in_set (a hash lookup in a VALUES list) counts what GX's IN list counts.

    NULL values are not checked, a None in the set matches nothing, and a set of numbers
    keeps GX's own SQL.
    """
    from tierwise.quality.gx_duckdb import bind_warehouse

    with duckdb.connect(str(tmp_path / "versions.duckdb")) as con, bind_warehouse(con):
        con.execute(VERSIONS)
        batch = _raw_batch(gx, "versions")
        gxe = gx.expectations
        in_set = batch.validate(
            gxe.ExpectColumnValuesToBeInSet(column="order_id", value_set=["O1", "O3", None]),
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_source_file"]},
        )
        numbers = batch.validate(gxe.ExpectColumnValuesToBeInSet(column="line_no", value_set=[2]))
    assert (in_set.result["unexpected_count"], in_set.result["missing_count"]) == (2, 4)
    assert in_set.result["unexpected_list"] == ["O2", "O2"]
    assert numbers.result["unexpected_count"] == 10
