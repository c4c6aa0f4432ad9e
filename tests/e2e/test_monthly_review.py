"""The monthly review DAG as the scheduler runs it, through `airflow dags test` on a generated sample.

The review builds the previous month's evaluation from the data already loaded, validates
it, refreshes the BI snapshot, publishes and notifies; its DAG-level success callback and
its deadline alert are declared as in production. Then the CLI paths that validate marts
refresh the snapshot too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from tests.support import airflow_dags_test, isolate_tierwise

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REVIEW_DAY = datetime(2026, 1, 5, 6, 0)
EVALUATION = date(2025, 12, 31)


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from tierwise.airflow_local import setup_airflow
    from tierwise.cli import main
    from tierwise_dev.generate import generate

    root = tmp_path_factory.mktemp("review")
    patch = isolate_tierwise(root)
    try:
        generate(root / "data", customers=400, orders=3_000, seed=5, start=date(2025, 1, 1), end=EVALUATION)
        assert main(["ingest"]) == 0
        log = root / "logs" / "review.log"
        setup_airflow(root / "logs" / "airflow-setup.log")
        code = airflow_dags_test("tierwise_monthly_review", REVIEW_DAY, log)
        yield {"root": root, "code": code, "log": log.read_text(encoding="utf-8")}
    finally:
        patch.undo()


def _snapshot_as_of(root: Path) -> date:
    with duckdb.connect(str(root / "publish" / "bi" / "marts.duckdb"), read_only=True) as con:
        return con.execute("select max(as_of_date) from customer_tiers").fetchone()[0]


def test_the_review_exits_0(review: dict) -> None:
    assert review["code"] == 0, review["log"][-4000:]
    for task_id in ("dbt_build", "marts_quality_gate", "publish", "notify_tier_changes", "summarize"):
        assert f"end task task_id={task_id}" in review["log"]


def test_the_review_writes_the_run_report_of_its_evaluation(review: dict) -> None:
    reports = review["root"] / "publish" / "reports"
    report = reports / f"run-{EVALUATION}.html"
    assert report.is_file()
    assert (reports / "latest.html").read_bytes() == report.read_bytes()
    assert f"run report: {report}" in review["log"]


def test_its_callbacks_run_without_a_traceback(review: dict) -> None:
    log = review["log"]
    assert "Executing on_success dag callback" in log
    assert "Callback failed" not in log and "Failed to send notification" not in log
    assert "Traceback" not in log, log[log.find("Traceback") - 2000 :][:6000]


def test_the_review_refreshes_the_bi_snapshot_and_publishes(review: dict) -> None:
    assert _snapshot_as_of(review["root"]) == EVALUATION
    assert (review["root"] / "publish" / "files" / f"customer_tiers_{EVALUATION}.csv").exists()


def test_a_build_without_as_of_takes_dbts_date_and_is_skipped(review: dict, capsys) -> None:
    """No --as-of: the date dbt would take is resolved first, so an unchanged build is skipped."""
    from tierwise.cli import main
    from tierwise.evaluation import latest_order_date

    with duckdb.connect(str(review["root"] / "warehouse" / "tierwise.duckdb"), read_only=True) as con:
        query = "select max(cast(ordered_at as date)) from staging.stg_shop__orders"
        staged = con.execute(query).fetchone()[0]
        assert latest_order_date(con) == staged == EVALUATION
    capsys.readouterr()
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert f"dbt build skipped: nothing the evaluation as of {EVALUATION} (the latest order date)" in out, out


def test_validating_marts_from_the_cli_refreshes_the_snapshot(review: dict) -> None:
    from tierwise.cli import main

    snapshot = review["root"] / "publish" / "bi" / "marts.duckdb"
    snapshot.unlink()
    assert main(["validate", "--gate", "marts"]) == 0
    assert _snapshot_as_of(review["root"]) == EVALUATION


def test_tierwise_run_refreshes_the_snapshot(review: dict, capsys) -> None:
    from tierwise.cli import main

    snapshot = review["root"] / "publish" / "bi" / "marts.duckdb"
    snapshot.unlink()
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "[snapshot ] read-only BI snapshot" in out and "  snapshot  read-only BI snapshot" in out, out
    assert _snapshot_as_of(review["root"]) == EVALUATION
