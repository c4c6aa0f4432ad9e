"""A failing marts gate stops publishing in a real Airflow run."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from tests.support import isolate_tierwise

from tierwise.settings import reset_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _strict_expectations(target: Path) -> Path:
    """The project's GX suites, with a tolerance no real customer base meets."""
    shutil.copytree(REPO / "expectations", target, ignore=shutil.ignore_patterns("uncommitted"))
    thresholds = yaml.safe_load((target / "thresholds.yml").read_text(encoding="utf-8"))
    thresholds["marts"]["a_share"] = {"min": 0.0, "max": 0.0001}
    (target / "thresholds.yml").write_text(yaml.safe_dump(thresholds), encoding="utf-8")
    return target


def test_failed_marts_gate_blocks_publish(tmp_path: Path) -> None:
    from tierwise.airflow_local import setup_airflow
    from tierwise.demo import run_dag
    from tierwise.generate import generate

    patch = isolate_tierwise(tmp_path)
    patch.setenv("TIERWISE_EXPECTATIONS_DIR", str(_strict_expectations(tmp_path / "expectations")))
    reset_settings()
    try:
        generate(tmp_path / "data", customers=300, orders=2_000, seed=3, start=date(2025, 7, 1))
        log = tmp_path / "logs" / "airflow.log"
        setup_airflow(log)
        ok = run_dag(datetime(2026, 1, 5, 6, 0), log)
    finally:
        patch.undo()
        reset_settings()
    progress = (tmp_path / "logs" / "progress.log").read_text(encoding="utf-8")
    assert not ok
    assert "[build    ] dbt build: ok" in progress
    assert "marts gate" in progress and "FAILED" in progress
    assert "a_share" in progress or "class A" in progress, progress
    assert "[publish" not in progress
    assert not (tmp_path / "publish" / "files").exists(), "nothing may be published after a failed gate"
