"""``tierwise-dev bench --quick`` at a tiny size: every stage is recorded, the answers agree.

Runs the real stages (generate, ingest, both GX gates, dbt build, publish, floor, pandas)
in child processes, about a minute on two cores. Quick mode skips Airflow and the
incremental runs; they are still listed, with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tierwise_dev.bench import QUICK_SIZES, run_bench

EXPECTED_STAGES = {
    "generate",
    "ingest",
    "validate_raw",
    "build",
    "validate_marts",
    "publish_files",
    "publish_postgres",
    "pipeline_total",
    "airflow_e2e",
    "daily_ingest",
    "daily_build",
    "daily_total",
    "daily_build_forced",
    "daily_total_forced",
    "monthly_build",
    "floor",
    "pandas",
}
PIPELINE_STAGES = ("ingest", "validate_raw", "build", "validate_marts", "publish_files", "publish_postgres")
CORE_RATIOS = {
    "end_to_end_over_floor": ("pipeline_total", "floor"),
    "pipeline_over_floor": ("pipeline_total", "floor"),
    "build_over_floor": ("build", "floor"),
    "pandas_over_end_to_end": ("pandas", "pipeline_total"),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    path = run_bench(list(QUICK_SIZES), out, quick=True)
    assert path.parent == out.resolve() and path.suffix == ".json"
    assert path.with_suffix(".md").exists()
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_stage_is_recorded(results: dict[str, Any]) -> None:
    (size,) = results["sizes"]
    assert size["orders"] == QUICK_SIZES[0]
    assert set(size["stages"]) == EXPECTED_STAGES
    for key, entry in size["stages"].items():
        assert entry["ok"], f"{key}: {entry.get('note')}"
        if entry.get("skipped"):
            assert entry["note"], f"{key} was skipped without a reason"
        else:
            assert entry["wall_s"] > 0 and entry["peak_mb"] > 0, key


@pytest.mark.slow
def test_floor_and_pandas_agree_with_the_marts(results: dict[str, Any]) -> None:
    checks = results["sizes"][0]["checks"]
    for name in ("floor", "pandas"):
        assert checks[name]["passed"], checks[name]
        assert checks[name]["customers"] > 0
        assert not any(checks[name]["mismatches"].values())


@pytest.mark.slow
def test_ratios_are_quotients_of_the_recorded_stages(results: dict[str, Any]) -> None:
    """Quick mode has no Airflow run: end to end is the sum of the pipeline stages."""
    size = results["sizes"][0]
    seconds = {key: entry["wall_s"] for key, entry in size["stages"].items() if not entry.get("skipped")}
    ran = [seconds[key] for key in PIPELINE_STAGES if key in seconds]
    assert len(ran) >= 5 and seconds["pipeline_total"] == pytest.approx(sum(ran), abs=0.001)
    ratios = size["ratios"]
    assert ratios["end_to_end_basis"] == "pipeline_total"
    for name, (numerator, denominator) in CORE_RATIOS.items():
        quotient = seconds[numerator] / seconds[denominator]
        assert ratios[name] == pytest.approx(quotient, abs=0.0011), (name, seconds)


@pytest.mark.slow
def test_the_record_names_machine_versions_and_targets(results: dict[str, Any]) -> None:
    assert results["ok"] is True
    assert results["machine"]["cores"] >= 1 and results["machine"]["memory_mb"]
    for package in ("python", "duckdb", "dbt-core", "apache-airflow", "great-expectations", "pandas"):
        assert results["versions"][package]
    judged = {target["target"].split(" (")[0] for target in results["targets"]}
    assert judged >= {
        "incremental day with a forced build under a quarter of the full run",
        "peak memory under 4 GB",
    }
