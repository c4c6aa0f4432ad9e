"""Snapshot files of customer_tiers, written from an in-memory mart into a temp folder."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tierwise.publish.files import export_files, snapshot_paths
from tierwise.publish.state import ensure_tables

AS_OF = date(2024, 1, 31)


@pytest.fixture
def mart(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    ensure_tables(con)
    con.execute(
        "create schema marts; create table marts.customer_tiers as select * from (values "
        "('C2', date '2024-01-31', 'gold', 12.50::decimal(18,2), 'Bea'), "
        "('C1', date '2024-01-31', 'bronze', 3.00::decimal(18,2), 'Al'), "
        "('C3', date '2024-01-31', 'silver', 7.25::decimal(18,2), 'Cy')) "
        "as t(customer_id, as_of_date, tier_code, measure_value, customer_name)"
    )
    return con


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_files_are_named_by_the_evaluation(tmp_path: Path) -> None:
    assert snapshot_paths(tmp_path, AS_OF) == (
        tmp_path / "customer_tiers_2024-01-31.csv",
        tmp_path / "customer_tiers_2024-01-31.parquet",
        tmp_path / "customer_tiers_latest.csv",
    )


def test_a_first_export_writes_the_mart_without_personal_columns(
    mart: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    report = export_files(mart, AS_OF, tmp_path / "files", run_id="r1", dry_run=False)
    csv_path, parquet_path, latest = snapshot_paths(tmp_path / "files", AS_OF)
    assert read_csv(csv_path) == [
        ["customer_id", "as_of_date", "tier_code", "measure_value"],
        ["C1", "2024-01-31", "bronze", "3.00"],
        ["C2", "2024-01-31", "gold", "12.50"],
        ["C3", "2024-01-31", "silver", "7.25"],
    ]
    assert latest.read_bytes() == csv_path.read_bytes()
    parquet = mart.execute(
        f"select customer_id, measure_value from read_parquet('{parquet_path}') order by 1"
    )
    assert [(key, str(value)) for key, value in parquet.fetchall()] == [
        ("C1", "3.00"),
        ("C2", "12.50"),
        ("C3", "7.25"),
    ]
    assert (report.status, report.total, report.new, report.sent, report.applied) == ("ok", 3, 3, 3, 3)
    runs = mart.execute("select destination, status, total, new from ops.sync_runs").fetchall()
    assert runs == [("files.customer_tiers", "ok", 3, 3)]


def test_an_unchanged_mart_keeps_the_files_and_a_changed_one_rewrites_them(
    mart: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    export_files(mart, AS_OF, tmp_path, run_id="r1", dry_run=False)
    csv_path = snapshot_paths(tmp_path, AS_OF)[0]
    written = csv_path.stat().st_mtime_ns
    (tmp_path / ".customer_tiers_latest.csv.abc.tmp").write_text("left by a killed writer")
    again = export_files(mart, AS_OF, tmp_path, run_id="r2", dry_run=False)
    assert (again.unchanged, again.sent, again.applied, csv_path.stat().st_mtime_ns) == (3, 0, 0, written)
    assert list(tmp_path.glob("*.tmp")) == []
    mart.execute("update marts.customer_tiers set tier_code = 'gold' where customer_id = 'C1'")
    mart.execute("delete from marts.customer_tiers where customer_id = 'C3'")
    changed = export_files(mart, AS_OF, tmp_path, run_id="r3", dry_run=False)
    assert (changed.new, changed.changed, changed.unchanged, changed.deleted, changed.applied) == (
        0,
        1,
        1,
        1,
        3,
    )
    assert [row[:3] for row in read_csv(csv_path)[1:]] == [
        ["C1", "2024-01-31", "gold"],
        ["C2", "2024-01-31", "gold"],
    ]


def test_a_dry_run_writes_and_records_nothing(mart: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    report = export_files(mart, AS_OF, tmp_path / "files", run_id="r1", dry_run=True)
    assert (report.status, report.new, report.sent, report.applied) == ("dry_run", 3, 0, 3)
    assert not (tmp_path / "files").exists()
    assert mart.execute("select count(*) from ops.sync_runs").fetchone() == (0,)
