"""Publishing to files and to the local operational database (SQLite), end to end."""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.fakes.warehouse import build_marts, execute
from tests.support import isolate_tierwise, run_context

from tierwise.exceptions import PublishError
from tierwise.publish import publish
from tierwise.publish.files import write_atomically
from tierwise.publish.tables import sqlite_value

AS_OF = date(2024, 1, 31)
CUSTOMERS = 150


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_tierwise(tmp_path, monkeypatch, home=True)
    return build_marts(tmp_path / "warehouse.duckdb", customers=CUSTOMERS)


def publish_dir(warehouse: Path) -> Path:
    return warehouse.parent / "publish"


def mart_rows(warehouse: Path, columns: str = "*") -> list[tuple[object, ...]]:
    return execute(warehouse, f"select {columns} from marts.customer_tiers order by customer_id")


def sqlite_rows(path: Path, table: str, columns: str, order: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"select {columns} from {table} order by {order}").fetchall()


def test_files_are_complete_snapshots(warehouse: Path) -> None:
    report = publish(["files"], run_context("run-1", as_of_date=AS_OF, warehouse=warehouse))
    files = publish_dir(warehouse) / "files"
    csv, parquet, latest = (
        files / "customer_tiers_2024-01-31.csv",
        files / "customer_tiers_2024-01-31.parquet",
        files / "customer_tiers_latest.csv",
    )
    assert set(report.paths) == {csv, parquet, latest}
    con = duckdb.connect()
    expected = mart_rows(warehouse)
    assert con.execute(f"select * from read_parquet('{parquet}')").fetchall() == expected
    from_csv = con.execute(f"select * from read_csv('{csv}', header = true) order by customer_id").fetchall()
    assert len(from_csv) == CUSTOMERS and from_csv[0][0] == expected[0][0]
    assert latest.read_bytes() == csv.read_bytes()
    assert not list(files.glob(".*.tmp"))
    assert "email" not in csv.read_text().splitlines()[0]


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old complete content\n")

    def half_then_crash(temp: Path) -> None:
        temp.write_text("new but part")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(target, half_then_crash)
    assert target.read_text() == "old complete content\n"
    assert list(tmp_path.iterdir()) == [target]


def test_a_write_killed_midway_leaves_no_temporary_file(warehouse: Path) -> None:
    """kill -9 runs no cleanup: the half-written temporary file stays until the next publish removes it."""
    files = publish_dir(warehouse) / "files"
    files.mkdir(parents=True)
    code = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from tierwise.publish.files import write_atomically

        def half_then_killed(temp):
            temp.write_text("customer_id,tier_code\\nC0000001,go")
            os.kill(os.getpid(), signal.SIGKILL)

        write_atomically(Path({str(files / "customer_tiers_latest.csv")!r}), half_then_killed)
        """
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == -signal.SIGKILL
    left = [path.name for path in files.iterdir()]
    assert len(left) == 1 and left[0].startswith(".customer_tiers_latest.csv."), left
    publish(["files"], run_context("run-1", as_of_date=AS_OF, warehouse=warehouse))
    assert sorted(path.name for path in files.iterdir()) == [
        "customer_tiers_2024-01-31.csv",
        "customer_tiers_2024-01-31.parquet",
        "customer_tiers_latest.csv",
    ]


def test_sqlite_mirrors_the_mart_and_a_rerun_sends_nothing(warehouse: Path) -> None:
    first = publish(["database"], run_context("run-1", warehouse=warehouse))
    tiers, events = first.streams
    assert (tiers.new, tiers.sent, tiers.applied) == (CUSTOMERS, CUSTOMERS, CUSTOMERS)
    db = publish_dir(warehouse) / "operational.sqlite"
    columns = "customer_id, as_of_date, measure_value, tier_code, is_eligible, gap_to_next_tier"
    expected = [tuple(sqlite_value(value) for value in row) for row in mart_rows(warehouse, columns)]
    assert sqlite_rows(db, "customer_tiers", columns, "customer_id") == expected
    n_events = execute(warehouse, "select count(*) from marts.tier_changes")[0][0]
    assert events.sent == n_events == sqlite_rows(db, "tier_change_events", "count(*)", "1")[0][0]

    again = publish(["database"], run_context("run-2", warehouse=warehouse))
    assert [(stream.sent, stream.applied, stream.unchanged) for stream in again.streams] == [
        (0, 0, CUSTOMERS),
        (0, 0, n_events),
    ]


def test_changes_and_removals_converge(warehouse: Path) -> None:
    publish(["database"], run_context("run-1", warehouse=warehouse))
    execute(warehouse, "update marts.customer_tiers set tier_code = 'gold' where customer_id <= 'C0000010'")
    execute(warehouse, "delete from marts.customer_tiers where customer_id in ('C0000149', 'C0000150')")
    report = publish(["database"], run_context("run-2", warehouse=warehouse))
    tiers = report.streams[0]
    assert tiers.deleted == 2 and tiers.sent == tiers.changed + 2
    db = publish_dir(warehouse) / "operational.sqlite"
    assert sqlite_rows(db, "customer_tiers", "customer_id, tier_code", "customer_id") == mart_rows(
        warehouse, "customer_id, tier_code"
    )


def test_dry_run_writes_nothing(warehouse: Path) -> None:
    before = sorted(path.name for path in warehouse.parent.iterdir())
    ops_tables = "select table_name from information_schema.tables where table_schema = 'ops' order by 1"
    assert execute(warehouse, ops_tables) == [("quality_results",)]  # the fake's passed marts gate
    report = publish(["files", "database"], run_context("dry", warehouse=warehouse, dry_run=True))
    assert sorted(path.name for path in warehouse.parent.iterdir()) == before
    assert execute(warehouse, ops_tables) == [("quality_results",)]
    assert report.streams[1].to_send == CUSTOMERS and any(
        "new C0000001" in line for line in report.summary_lines()
    )

    publish(["database"], run_context("run-1", warehouse=warehouse))
    execute(warehouse, "update marts.customer_tiers set tier_code = 'gold' where customer_id = 'C0000005'")
    state_before = execute(warehouse, "select * from ops.sync_state order by all")
    runs_before = execute(warehouse, "select count(*) from ops.sync_runs")
    diff = publish(["database"], run_context("dry-2", warehouse=warehouse, dry_run=True))
    assert diff.streams[0].diff == (("changed", "C0000005"),)
    assert execute(warehouse, "select * from ops.sync_state order by all") == state_before
    assert execute(warehouse, "select count(*) from ops.sync_runs") == runs_before
    db = publish_dir(warehouse) / "operational.sqlite"
    assert sqlite_rows(db, "customer_tiers", "tier_code", "customer_id")[4] != ("gold",)


def test_only_the_runs_own_evaluation_is_published(warehouse: Path) -> None:
    with pytest.raises(PublishError, match="not of this run"):
        publish(["files"], run_context("r", as_of_date=date(2024, 2, 29), warehouse=warehouse))
    assert not (publish_dir(warehouse) / "files").exists()


def test_unconfigured_destinations_are_skipped_with_a_log_line(
    warehouse: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tierwise.publish"):
        report = publish(["files", "database", "crm", "notifications"], run_context("r", warehouse=warehouse))
    assert [skip.split(":")[0] for skip in report.skipped] == ["crm", "notifications"]
    assert "AIRFLOW_CONN_TIERWISE_CRM" in caplog.text and "AIRFLOW_CONN_TIERWISE_WEBHOOK" in caplog.text
    assert "using the local SQLite file" in caplog.text


def test_the_same_run_retried_is_recorded_as_a_second_attempt(warehouse: Path) -> None:
    publish(["files", "database"], run_context("same", warehouse=warehouse))
    second = publish(["files", "database"], run_context("same", warehouse=warehouse))
    assert second.streams[1].sent == 0
    attempts = execute(warehouse, "select destination, max(attempt) from ops.sync_runs group by 1 order by 1")
    assert {attempt for _, attempt in attempts} == {2}


def test_unknown_destination_is_refused(warehouse: Path) -> None:
    with pytest.raises(PublishError, match="unknown destination"):
        publish(["fax"], run_context("r", warehouse=warehouse))


def test_a_rerun_with_no_change_keeps_the_files_as_they_are(warehouse: Path) -> None:
    # Like the real mart's counts (dbt-duckdb makes sums of integers HUGEINT, which Parquet lacks).
    execute(warehouse, "alter table marts.customer_tiers add column measure_orders hugeint default 3")
    first = publish(["files"], run_context("run-1", warehouse=warehouse))
    paths = first.paths
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths}
    again = publish(["files"], run_context("run-2", warehouse=warehouse))
    files = again.streams[0]
    assert (files.new, files.changed, files.unchanged, files.sent) == (0, 0, CUSTOMERS, 0)
    assert "0 sent/0 changed" in again.headline()
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths} == before

    execute(warehouse, "update marts.customer_tiers set measure_value = -1 where customer_id <= 'C0000003'")
    execute(warehouse, "delete from marts.customer_tiers where customer_id = 'C0000150'")
    changed = publish(["files"], run_context("run-3", warehouse=warehouse)).streams[0]
    assert (changed.changed, changed.deleted, changed.unchanged, changed.sent) == (
        3,
        1,
        CUSTOMERS - 4,
        CUSTOMERS - 1,
    )
    parquet = next(path for path in paths if path.suffix == ".parquet")
    assert duckdb.connect().execute(f"select * from '{parquet}'").fetchall() == mart_rows(warehouse)
    # A file gone (or "latest" pointing at another evaluation) is written again.
    paths[2].unlink()
    assert publish(["files"], run_context("run-4", warehouse=warehouse)).streams[0].sent == CUSTOMERS - 1
    assert paths[2].read_bytes() == paths[0].read_bytes()


def test_a_column_of_another_type_rewrites_every_row(warehouse: Path) -> None:
    first = publish(["files"], run_context("run-1", warehouse=warehouse)).streams[0]
    assert first.sent == CUSTOMERS
    # Three decimals now: compared in the file's two decimals, 1.239 would pass for 1.24.
    execute(warehouse, "alter table marts.customer_tiers alter measure_value type decimal(18, 3)")
    execute(warehouse, "update marts.customer_tiers set measure_value = measure_value + 0.001")
    again = publish(["files"], run_context("run-2", warehouse=warehouse)).streams[0]
    assert (again.changed, again.sent) == (CUSTOMERS, CUSTOMERS)


def test_a_temporary_file_left_by_a_kill_goes_even_when_nothing_is_written(warehouse: Path) -> None:
    first = publish(["files"], run_context("run-1", warehouse=warehouse))
    files = first.paths[0].parent
    abandoned = files / ".customer_tiers_latest.csv.0123abcd.tmp"
    abandoned.write_text("customer_id,tier_code\nC0000001,go")
    again = publish(["files"], run_context("run-2", warehouse=warehouse)).streams[0]
    assert again.sent == 0 and not abandoned.exists()
