"""SQL helpers that work on any engine's connection."""

from __future__ import annotations

import duckdb
import pytest

from tierwise.engine import column_names, fetch_all, list_tables, table_exists, transaction


def test_table_exists_looks_in_the_schema_given() -> None:
    with duckdb.connect() as con:
        con.execute("create schema ops; create table ops.build_state (x int)")
        assert table_exists(con, "ops", "build_state")
        assert not table_exists(con, "main", "build_state") and not table_exists(con, "ops", "other")


def test_a_failed_transaction_changes_nothing() -> None:
    with duckdb.connect() as con:
        con.execute("create table t (x int)")
        with pytest.raises(ValueError), transaction(con):
            con.execute("insert into t values (1)")
            raise ValueError("kill before the commit")
        with transaction(con):
            con.execute("insert into t values (2)")
        assert fetch_all(con, "select x from t order by x") == [(2,)]


def test_the_catalog_lists_tables_not_views_and_columns_in_order() -> None:
    with duckdb.connect() as con:
        con.execute("create schema marts; create table marts.b (z int, a int); create table marts.a (x int)")
        con.execute("create view marts.v as select 1 as one; create table main.c (y int)")
        assert list_tables(con, "marts") == ["a", "b"]
        assert column_names(con, "marts", "b") == ["z", "a"] and column_names(con, "marts", "none") == []
