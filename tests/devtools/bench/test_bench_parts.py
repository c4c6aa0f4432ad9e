"""The bench's own machinery, on tiny inputs: measuring a child, comparing, ratios, the floor's literals."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tierwise_dev.bench import metrics, report
from tierwise_dev.bench.compare import compare_with_marts
from tierwise_dev.bench.floor import sql_literal
from tierwise_dev.bench.measure import Measurement, Servers, run_measured

# Holds 200 MB for a second (long enough to be sampled), then reports like a stage does.
ALLOCATE = (
    "import sys, time; block = bytearray(200 * 1024 * 1024); time.sleep(1); "
    "open(sys.argv[1], 'w').write('{\"elapsed\": 0.5}')"
)


SLEEPS = "import sys, time; time.sleep(1); open(sys.argv[1], 'w').write('{}')"


def _measure(tmp_path: Path, script: str, servers: Servers | None = None) -> Measurement:
    """A stage running ``script`` (which writes its result to argv[1]), measured."""
    result = tmp_path / "result.json"
    return run_measured(
        [sys.executable, "-c", script, str(result)],
        env={},
        log_file=tmp_path / "child.log",
        result_file=result,
        timeout_s=60,
        servers=servers,
    )


def test_a_child_is_measured_with_its_own_peak_memory(tmp_path: Path) -> None:
    measured = _measure(tmp_path, ALLOCATE)
    assert measured.ok and measured.work_s == 0.5
    assert 200 <= measured.peak_rss_mb < 400
    assert 1.0 <= measured.wall_s < 30, "the child sleeps for a second"


def test_a_big_parent_does_not_leak_into_the_childs_peak(tmp_path: Path) -> None:
    """The kernel hands the parent's peak to the child's ru_maxrss at exec: it must not show."""
    ballast = bytearray(600 * 1024 * 1024)  # this process now peaks above 600 MB
    measured = _measure(tmp_path, SLEEPS)
    del ballast
    assert measured.ok and 0 < measured.peak_rss_mb < 100


def test_a_failing_child_reports_its_log(tmp_path: Path) -> None:
    measured = run_measured(
        [sys.executable, "-c", "raise SystemExit('broken on purpose')"],
        env={},
        log_file=tmp_path / "child.log",
        result_file=tmp_path / "none.json",
        timeout_s=60,
    )
    assert not measured.ok
    assert "broken on purpose" in measured.note


def test_a_child_over_its_time_limit_is_stopped(tmp_path: Path) -> None:
    measured = run_measured(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        env={},
        log_file=tmp_path / "child.log",
        result_file=tmp_path / "none.json",
        timeout_s=1,
    )
    assert not measured.ok and "time limit" in measured.note
    assert measured.wall_s < 10


MARTS = [
    ("C1", 2, 150.25, 100.00, 1, 10, "A", "bronze", True),
    ("C2", 0, 0.00, 0.00, 0, None, "C", "unrated", False),
]


def _warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.customer_value (customer_id varchar, orders_count int,"
        " net_revenue decimal(18, 2), monetary decimal(18, 2), frequency int, recency_days int)"
    )
    con.execute(
        "create table marts.customer_tiers (customer_id varchar, abc_class varchar, tier_code varchar,"
        " is_eligible boolean)"
    )
    for row in MARTS:
        con.execute("insert into marts.customer_value values (?, ?, ?, ?, ?, ?)", row[:6])
        con.execute("insert into marts.customer_tiers values (?, ?, ?, ?)", [row[0], *row[6:]])
    con.close()
    return path


def _parquet(path: Path, rows: list[tuple[Any, ...]]) -> Path:
    con = duckdb.connect()
    con.execute(
        "create table out (customer_id varchar, orders_count int, net_revenue double, monetary double,"
        " frequency int, recency_days int, abc_class varchar, tier_code varchar, is_eligible boolean)"
    )
    con.executemany("insert into out values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(f"copy out to '{path}' (format parquet)")
    con.close()
    return path


def test_equal_answers_pass(tmp_path: Path) -> None:
    check = compare_with_marts(_warehouse(tmp_path / "w.duckdb"), _parquet(tmp_path / "o.parquet", MARTS))
    assert check["passed"] and check["customers"] == 2


def test_money_within_the_tolerance_passes_beyond_it_fails(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "w.duckdb")
    close = [(*MARTS[0][:2], 150.25 + 1e-5, *MARTS[0][3:]), MARTS[1]]
    assert compare_with_marts(warehouse, _parquet(tmp_path / "close.parquet", close))["passed"]
    off = [(*MARTS[0][:2], 150.26, *MARTS[0][3:]), MARTS[1]]
    check = compare_with_marts(warehouse, _parquet(tmp_path / "off.parquet", off))
    assert not check["passed"] and check["mismatches"]["net_revenue"] == 1
    assert check["examples"]["net_revenue"][0][0] == "C1"


def test_a_wrong_tier_a_null_and_a_missing_customer_are_caught(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "w.duckdb")
    wrong = [(*MARTS[0][:5], None, "A", "silver", True)]
    check = compare_with_marts(warehouse, _parquet(tmp_path / "o.parquet", wrong))
    assert not check["passed"]
    assert check["mismatches"]["tier_code"] == 1 and check["mismatches"]["recency_days"] == 1
    assert check["only_in_marts"] == 1


def _stage(wall: float, peak: float = 100.0) -> dict[str, Any]:
    return {"wall_s": wall, "peak_mb": peak, "ok": True}


def test_ratios_use_the_airflow_run_when_there_is_one() -> None:
    stages = {key: _stage(10.0) for key in metrics.PIPELINE_STAGES}
    stages |= {"floor": _stage(20.0), "pandas": _stage(1200.0), "airflow_e2e": _stage(80.0)}
    stages |= {"daily_ingest": _stage(1.0), "daily_build": _stage(9.0), "monthly_build": _stage(12.0)}
    stages |= {"daily_build_forced": _stage(29.0)}
    metrics.add_totals(stages)
    ratios = metrics.ratios(stages)
    assert stages["pipeline_total"]["wall_s"] == 60.0
    assert ratios["end_to_end_basis"] == "airflow_e2e"
    assert ratios["end_to_end_over_floor"] == 4.0
    assert ratios["pandas_over_end_to_end"] == 15.0
    assert ratios["daily_over_full"] == pytest.approx(10 / 60, abs=1e-3)
    assert ratios["daily_forced_over_full"] == pytest.approx(30 / 60, abs=1e-3)
    assert ratios["monthly_over_build"] == pytest.approx(12 / 10, abs=1e-3)


def test_targets_judge_each_size_they_name_and_the_largest_size() -> None:
    def size(orders: int, e2e: float, floor: float, pandas: float, peak: float) -> dict[str, Any]:
        stages = {"airflow_e2e": _stage(e2e, peak), "floor": _stage(floor), "pandas": _stage(pandas)}
        stages |= {key: _stage(e2e / 10) for key in metrics.PIPELINE_STAGES}
        stages |= {"daily_ingest": _stage(1.0), "daily_build_forced": _stage(e2e / 10)}
        metrics.add_totals(stages)
        return {"orders": orders, "stages": stages, "ratios": metrics.ratios(stages)}

    sizes = [
        size(100_000, 19.0, 1.0, 5.0, 500),
        size(1_000_000, 30.0, 3.0, 20.0, 900),
        size(10_000_000, 400.0, 40.0, 500.0, 5000),
    ]
    found = {(t["target"].split(" (")[0], t["orders"]): t for t in metrics.targets(sizes)}
    assert found[("end-to-end under 20 s", 100_000)]["met"] is True
    assert found[("end-to-end within 8x the floor", 1_000_000)]["met"] is False
    assert found[("faster than pandas end to end", 1_000_000)]["met"] is False
    assert found[("end-to-end within 5x the floor", 10_000_000)]["measured"] == 10.0
    assert found[("faster than pandas end to end", 10_000_000)]["met"] is True
    forced = found[("incremental day with a forced build under a quarter of the full run", 10_000_000)]
    assert forced["measured"] == pytest.approx(41 / 240, abs=1e-3) and forced["met"] is True
    growth = found[("near-linear growth 1,000,000 -> 10,000,000 orders", 10_000_000)]
    assert growth["measured"] == pytest.approx(400 / 30, abs=1e-3) and growth["met"] is False
    assert found[("peak memory under 4 GB", 10_000_000)]["met"] is False
    assert {orders for _, orders in found} == {100_000, 1_000_000, 10_000_000}


def test_rule_values_become_duckdb_literals() -> None:
    assert sql_literal(True) == "true"
    assert sql_literal(0.8) == "0.8"
    assert sql_literal(["active"]) == "['active']::varchar[]"
    assert sql_literal("it's") == "'it''s'"


# A stand-in for a server the bench did not start as the stage's child (Spark's JVM): 200 MB.
SERVER = "import time; block = bytearray(200 * 1024 * 1024); time.sleep(60)"


def test_a_server_outside_the_childs_tree_counts_in_its_peak(tmp_path: Path) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER])
    try:
        time.sleep(1.5)  # the server has its 200 MB before the stage starts
        measured = _measure(tmp_path, SLEEPS, servers=lambda: [server.pid])
    finally:
        server.kill()
        server.wait()
    assert measured.ok and measured.peak_rss_mb < 100, "the stage's own figure stays its own"
    assert measured.peak_servers_mb is not None and 200 <= measured.peak_servers_mb < 400
    assert measured.peak_tree_rss_mb >= measured.peak_servers_mb + 5
    assert measured.peak_mb == measured.peak_tree_rss_mb


# Holds 200 MB and forks a child that sleeps without touching it: the child's RSS is the same
# memory (copy-on-write), as a JVM's is between spawning a process and its exec.
FORKS = (
    "import os, sys, time; block = bytearray(200 * 1024 * 1024); pid = os.fork()\n"
    "if pid == 0:\n    time.sleep(2); os._exit(0)\n"
    "os.waitpid(pid, 0); open(sys.argv[1], 'w').write('{}')"
)


def test_a_child_with_its_parents_memory_is_counted_once(tmp_path: Path) -> None:
    measured = _measure(tmp_path, FORKS)
    assert measured.ok and measured.peak_rss_mb >= 200
    assert 200 <= measured.peak_tree_rss_mb < 300, "the forked copy adds no memory of its own"


def _engine_stages(**walls: float) -> dict[str, dict[str, Any]]:
    return {key: _stage(seconds) for key, seconds in walls.items()}


def test_spark_is_compared_with_duckdb_on_the_stages_both_ran() -> None:
    duckdb_stages = _engine_stages(ingest=10, validate_raw=5, build=20, validate_marts=4, publish_files=1)
    spark_stages = _engine_stages(server_start=15, ingest=30, validate_raw=5, build=100, publish_files=2)
    spark_stages["validate_marts"] = {"wall_s": 3.0, "peak_mb": 900.0, "ok": False, "note": "exit code 1"}
    spark_stages["ingest"]["details"] = {"timings": {"spark_sync_raw": 12.5}}
    spark_stages["build"]["details"] = {"timings": {"spark_fetch_marts": 2.0}}
    duckdb_dbt = {"elapsed_s": 15.0, "seconds_by_type": {"model": 10.0, "test": 8.0, "seed": 0.5}}
    spark_dbt = {"elapsed_s": 90.0, "seconds_by_type": {"model": 60.0, "test": 100.0, "unit_test": 4.0}}
    compared = metrics.engine_ratios(duckdb_stages, duckdb_dbt, spark_stages, spark_dbt)
    assert compared["compared_stages"] == ["ingest", "validate_raw", "build", "publish_files"]
    assert compared["duckdb"]["compared_total"] == 36.0 and compared["spark"]["compared_total"] == 137.0
    assert compared["spark"]["with_server_start"] == 152.0 and compared["duckdb"]["with_server_start"] == 36.0
    over = compared["spark_over_duckdb"]
    assert over["build"] == 5.0 and over["ingest"] == 3.0
    assert over["validate_marts"] is None, "a stage that failed has no ratio"
    assert over["dbt_tests"] == pytest.approx(104 / 8, abs=1e-3)
    assert compared["spark"]["sync_raw"] == 12.5 and over["sync_raw"] is None
    assert compared["spark"]["fetch_marts"] == 2.0
    assert compared["spark"]["peak_mb"] == 900.0, "a failed stage's memory still counts"


def test_the_report_shows_spark_beside_duckdb_and_a_failed_stage() -> None:
    duckdb_stages = _engine_stages(ingest=10, validate_raw=5, build=20, validate_marts=4, publish_files=1)
    spark_stages = _engine_stages(server_start=15, ingest=30, validate_raw=5, build=100, publish_files=2)
    spark_stages["validate_marts"] = {"wall_s": 3.0, "peak_mb": 900.0, "ok": False}
    spark = {
        "master": "local[2]",
        "stages": spark_stages,
        "dbt": {},
        "over_duckdb": metrics.engine_ratios(duckdb_stages, {}, spark_stages, {}),
    }
    check = {"passed": True, "customers": 10}
    size = {
        "orders": 1000,
        "stages": duckdb_stages,
        "checks": {"floor": check, "spark": check},
        "spark": spark,
    }
    table = "\n".join(report.spark_stage_table([size]) + report.comparison_table([size]))
    assert "| marts gate (GX) | FAILED |" in table
    assert "| dbt build | 20.0 | 100.0 | 5.00 |" in table
    assert "| server start-up (JVM, first catalog query) | – | 15.0 | – |" in table
    assert "ingest, validate_raw, build, publish_files" in table
    checks = "\n".join(report.check_table([size]))
    assert "| Spark's marts = floor | equal (10 customers) |" in checks
    assert "pandas" not in checks


def test_before_after_table_compares_the_sizes_both_runs_measured() -> None:
    def run(orders: list[int], ingest: float, floor: float) -> dict[str, Any]:
        sizes = []
        for count in orders:
            stages = {"ingest": _stage(ingest), "floor": _stage(floor), "build": {"skipped": True}}
            sizes.append(
                {"orders": count, "stages": stages, "ratios": {"end_to_end_over_floor": ingest / floor}}
            )
        return {"sizes": sizes}

    lines = report.before_after_table(run([100, 1000], 20.0, 2.0), run([1000, 5000], 5.0, 1.0))
    assert lines[0] == "| stage, wall seconds | 1,000: before → after (×) |"
    assert "| ingest, 3 sources | 20.00 → 5.00 (0.25) |" in lines
    assert "| dbt build (models + tests) | – → – (–) |" in lines
    assert any(line.startswith("| end-to-end / floor") and "10.00 → 5.00" in line for line in lines)
    assert report.before_after_table(run([100], 1.0, 1.0), run([1000], 1.0, 1.0)) == []
