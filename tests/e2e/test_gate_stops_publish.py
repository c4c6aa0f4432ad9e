"""A failing marts gate stops publishing on every path: CLI publish, `tierwise run`, the DAGs.

One warehouse, built once through the CLI, whose marts fail the marts gate
(`a_share_in_bounds`: a tolerance no real customer base meets). Each test then tries to
publish it another way; the override and the forced rebuild come last.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from tests.support import airflow_dags_test, isolate_tierwise

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
REVIEW_DAY = datetime(2026, 1, 5, 6, 0)


def _strict_expectations(target: Path) -> Path:
    """The project's GX suites, with a tolerance no real customer base meets."""
    shutil.copytree(REPO / "expectations", target, ignore=shutil.ignore_patterns("uncommitted"))
    thresholds = yaml.safe_load((target / "thresholds.yml").read_text(encoding="utf-8"))
    thresholds["marts"]["a_share"] = {"min": 0.0, "max": 0.0001}
    (target / "thresholds.yml").write_text(yaml.safe_dump(thresholds), encoding="utf-8")
    return target


def _nothing_published(root: Path) -> bool:
    publish = root / "publish"
    return not (publish / "files").exists() and not (publish / "operational.sqlite").exists()


@pytest.fixture(scope="module")
def failed_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Sample loaded and built, marts gate run and failed, nothing published."""
    from tierwise.airflow_local import setup_airflow
    from tierwise.cli import main
    from tierwise_dev.generate import generate

    root = tmp_path_factory.mktemp("gate")
    patch = isolate_tierwise(root)
    patch.setenv("TIERWISE_EXPECTATIONS_DIR", str(_strict_expectations(root / "expectations")))
    try:
        generate(root / "data", customers=300, orders=2_000, seed=3, start=date(2025, 7, 1))
        assert main(["ingest"]) == 0
        assert main(["validate", "--gate", "raw"]) == 0
        assert main(["build"]) == 0  # no --as-of: the latest order date, as dbt resolves it
        assert main(["validate", "--gate", "marts"]) == 1
        setup_airflow(root / "logs" / "airflow-setup.log")
        yield root
    finally:
        patch.undo()


def test_cli_publish_refuses_and_names_the_failed_check(failed_gate: Path, capsys) -> None:
    from tierwise.cli import main

    capsys.readouterr()
    assert main(["publish", "--destination", "database", "--destination", "files"]) == 1
    err = capsys.readouterr().err
    assert "publish refused" in err and "customer_tiers.a_share_in_bounds" in err, err
    assert "--override-gate" in err
    assert _nothing_published(failed_gate)
    assert not (failed_gate / "publish" / "bi" / "marts.duckdb").exists(), "no snapshot of failed marts"


def test_tierwise_run_stops_at_the_gate(failed_gate: Path, capsys) -> None:
    from tierwise.cli import main

    capsys.readouterr()
    assert main(["run"]) == 1
    out = capsys.readouterr().out
    assert "dbt build skipped" in out, out  # nothing changed, and no --as-of needed for the skip
    assert "a_share_in_bounds" in out and "[publish" not in out, out
    assert _nothing_published(failed_gate)


def test_publish_dag_refuses(failed_gate: Path) -> None:
    log = failed_gate / "logs" / "publish_dag.log"
    assert airflow_dags_test("tierwise_publish", REVIEW_DAY, log) != 0
    text = log.read_text(encoding="utf-8")
    assert "publish refused" in text and "a_share_in_bounds" in text
    assert _nothing_published(failed_gate)


def test_pipeline_dag_stops_at_the_gate(failed_gate: Path) -> None:
    from tierwise_dev.demo import run_dag

    assert not run_dag(REVIEW_DAY, failed_gate / "logs" / "pipeline_dag.log")
    progress = (failed_gate / "logs" / "progress.log").read_text(encoding="utf-8")
    assert "marts gate" in progress and "FAILED" in progress and "a_share" in progress, progress
    assert "[publish" not in progress
    assert _nothing_published(failed_gate)


def test_no_gate_since_the_last_build_refuses(failed_gate: Path, capsys) -> None:
    from tierwise.cli import main

    patch = pytest.MonkeyPatch()
    patch.setenv("TIERWISE_BUILD_SKIP_UNCHANGED", "0")
    try:
        assert main(["build"]) == 0
    finally:
        patch.undo()
    capsys.readouterr()
    assert main(["publish", "--destination", "files"]) == 1
    err = capsys.readouterr().err
    assert "has not run on the marts since they were built" in err
    assert "run `tierwise validate --gate marts` first" in err, err
    assert _nothing_published(failed_gate)


# Last: it publishes.
def test_override_publishes_loudly_and_is_recorded(failed_gate: Path, capsys) -> None:
    from tierwise.cli import main

    assert main(["validate", "--gate", "marts"]) == 1
    capsys.readouterr()
    assert main(["publish", "--destination", "files", "--override-gate", "approved by J. Doe"]) == 0
    out = capsys.readouterr().out
    assert "WARNING published past the marts gate" in out and "GATE OVERRIDDEN" in out, out
    assert (failed_gate / "publish" / "files" / "customer_tiers_latest.csv").exists()
    with duckdb.connect(str(failed_gate / "warehouse" / "tierwise.duckdb"), read_only=True) as con:
        query = "select status, error from ops.sync_runs where destination = 'marts_gate'"
        rows = con.execute(query).fetchall()
    assert len(rows) == 1 and rows[0][0] == "overridden"
    assert "approved by J. Doe" in rows[0][1] and "a_share_in_bounds" in rows[0][1]
