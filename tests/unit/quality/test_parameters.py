from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tierwise import schema
from tierwise.exceptions import ValidationRunError
from tierwise.quality import parameters, store
from tierwise.quality.report import ExpectationResult
from tierwise.quality.thresholds import load_thresholds

THRESHOLDS = load_thresholds(Path(__file__).resolve().parents[3] / "expectations" / "thresholds.yml")


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        connection.execute("create schema raw; create schema staging; create schema marts")
        yield connection


def _volume(count: int, success: bool) -> ExpectationResult:
    return ExpectationResult(
        suite="raw.orders",
        check="orders.volume",
        expectation_type="expect_table_row_count_to_be_between",
        column=None,
        severity="critical",
        outcome="passed" if success else "failed",
        success=success,
        observed_value=str(count),
    )


def _store(con: duckdb.DuckDBPyConnection, run_id: str, at: datetime, *results: ExpectationResult) -> None:
    store.write_results(con, results, run_id=run_id, validated_at=at, as_of_date=None, gate="raw")


def test_volume_floor_follows_the_last_passed_run(con: duckdb.DuckDBPyConnection) -> None:
    assert parameters.raw_parameters(con, THRESHOLDS, None, "now").values["orders_min_rows"] == 1
    _store(con, "r1", datetime(2024, 5, 1), _volume(1000, True))
    _store(con, "r2", datetime(2024, 5, 2), _volume(10, False))
    values = parameters.raw_parameters(con, THRESHOLDS, None, "now").values
    assert values["orders_min_rows"] == 900  # 1000 x volume_min_ratio 0.9; the failed run is ignored
    assert values["contacts_min_rows"] == 1


def test_rewriting_a_run_replaces_its_rows(con: duckdb.DuckDBPyConnection) -> None:
    _store(con, "r1", datetime(2024, 5, 1), _volume(1000, True))
    _store(con, "r1", datetime(2024, 5, 1), _volume(1200, True))
    rows = con.execute("select observed_value from ops.quality_results").fetchall()
    assert rows == [("1200",)]
    # The run being validated never compares with itself.
    assert store.previous_row_count(con, "raw.orders", "r1") is None


def test_freshness_is_relative_to_as_of_date_or_newest_export(con: duckdb.DuckDBPyConnection) -> None:
    values = parameters.raw_parameters(con, THRESHOLDS, date(2024, 5, 31), "r").values
    assert values["orders_fresh_after"] == "2024-05-28T00:00:00"  # max_age_days.orders = 3
    con.execute("create table raw.contacts as select date '2024-04-30' as _file_date")
    result = parameters.raw_parameters(con, THRESHOLDS, None, "r")
    assert result.values["contacts_fresh_after"] == "2024-03-30T00:00:00"  # 31 days
    assert result.notes == (
        "raw.orders: freshness not checked (no as_of_date and no export date)",
        "raw.tickets: freshness not checked (no as_of_date and no export date)",
    )


def test_allowed_sets_come_from_the_schema(con: duckdb.DuckDBPyConnection) -> None:
    values = parameters.raw_parameters(con, THRESHOLDS, None, "r").values
    # The raw gate accepts what ingestion accepts: every ISO 4217 code in current use.
    assert values["currencies"] == list(schema.CURRENCIES)
    assert {"BRL", "EUR", "GBP", "USD"} <= set(values["currencies"])
    assert "partially_returned" in values["order_statuses"]


def test_tier_codes_prefer_the_warehouse_then_the_seed(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    seed = tmp_path / "tier_ladder.csv"
    with pytest.raises(ValidationRunError, match="no tier_ladder table"):
        parameters.tier_codes(con, seed)
    seed.write_text("tier_code,tier_name\ngold,Gold\nbronze,Bronze\n")
    assert parameters.tier_codes(con, seed) == ["bronze", "gold"]
    con.execute("create table staging.tier_ladder as select unnest(['silver', 'unrated']) as tier_code")
    assert parameters.tier_codes(con, seed) == ["silver", "unrated"]


def test_staged_revenue(con: duckdb.DuckDBPyConnection) -> None:
    assert parameters.staged_net_revenue(con, "select sum(x) from range(0) as t(x)") == 0.0
    assert parameters.staged_net_revenue(con, "select 12.5") == 12.5
    with pytest.raises(ValidationRunError, match="staged net revenue query failed"):
        parameters.staged_net_revenue(con, "select sum(net) from intermediate.missing")


def test_only_scalars_become_session_variables() -> None:
    run = parameters.RunParameters({"a_share_min": 0.01, "tier_codes": ["gold"], "label": "x"})
    assert run.variables() == {"tw_a_share_min": 0.01, "tw_label": "x"}
