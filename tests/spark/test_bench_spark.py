"""``tierwise-dev bench --quick --engines spark``: the bench's Spark run, measured and checked.

One run at the quick size (about 5 minutes on two cores, most of it dbt's tests on Spark): the
bench starts a local Spark server of its own, runs the stages on it with the JVM's memory in
every stage's figure, checks Spark's marts against the floor and stops the server. A stage that
fails (the marts gate, while it cannot run on Spark) fails the run after its results are written.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tierwise.exceptions import TierwiseError
from tierwise_dev.bench import QUICK_SIZES, run_bench

JVM_MB = 200
"""Less than any JVM of Spark's local server holds once it has answered a query."""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("java") is None:
        pytest.skip("the bench's Spark run needs Java 17 (java on the PATH) for Spark's local server")
    out = tmp_path_factory.mktemp("bench")
    try:
        path = run_bench(list(QUICK_SIZES), out, quick=True, engines=["spark"])
    except TierwiseError:
        (path,) = out.glob("*.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _spark_stages(results: dict[str, Any]) -> dict[str, Any]:
    stages: dict[str, Any] = results["sizes"][0]["spark"]["stages"]
    return stages


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_server_start_is_a_line_of_its_own_and_the_server_is_gone_after(results: dict[str, Any]) -> None:
    stages = _spark_stages(results)
    start, stop = stages["server_start"], stages["server_stop"]
    assert start["ok"] and stop["ok"], (start["note"], stop["note"])
    assert start["details"]["jvm_start_s"] > 0 and start["details"]["first_catalog_query_s"] > 0
    assert start["details"]["master"] == "local[2]"
    assert stop["details"]["was_running"] and stop["details"]["lifetime_peak_mb"] > JVM_MB
    assert _ended(start["details"]["pid"]), "the bench left its Spark server running"


def _ended(pid: int, seconds: float = 30.0) -> bool:
    """True once ``pid`` is gone or a zombie (the JVM may still be exiting when its port closes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_the_jvm_counts_in_every_stages_memory(results: dict[str, Any]) -> None:
    stages = _spark_stages(results)
    for key in ("ingest", "validate_raw", "build", "validate_marts", "publish_files"):
        entry = stages[key]
        assert entry["peak_servers_mb"] > JVM_MB, key
        assert entry["peak_mb"] > entry["peak_servers_mb"], f"{key}: the stage's own process adds to it"


@pytest.mark.slow
def test_the_raw_sync_and_the_marts_fetch_are_timed_within_their_stages(results: dict[str, Any]) -> None:
    stages = _spark_stages(results)
    assert stages["ingest"]["ok"] and stages["build"]["ok"]
    assert 0 < stages["ingest"]["details"]["timings"]["spark_sync_raw"] < stages["ingest"]["wall_s"]
    assert 0 < stages["build"]["details"]["timings"]["spark_fetch_marts"] < stages["build"]["wall_s"]
    assert results["sizes"][0]["spark"]["dbt"]["seconds_by_type"]["test"] > 0


@pytest.mark.slow
def test_sparks_marts_equal_the_floor(results: dict[str, Any]) -> None:
    check = results["sizes"][0]["checks"]["spark"]
    assert check["passed"], check
    assert check["customers"] > 0


@pytest.mark.slow
def test_duckdb_is_said_to_be_left_out(results: dict[str, Any]) -> None:
    size = results["sizes"][0]
    assert size["stages"]["floor"]["ok"] and not size["stages"]["floor"].get("skipped")
    for key in ("ingest", "build", "pandas"):
        assert size["stages"][key]["skipped"] and "--engines" in size["stages"][key]["note"]
    assert "floor" not in size["checks"] and "over_duckdb" in size["spark"]
    assert results["settings"]["engines"] == ["spark"]
