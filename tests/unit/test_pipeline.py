from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from tierwise import pipeline
from tierwise.exceptions import TierwiseError


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (date(2026, 1, 5), date(2025, 12, 31)),
        (datetime(2024, 3, 1, 0, 0), date(2024, 2, 29)),
        (date(2025, 7, 31), date(2025, 6, 30)),
    ],
)
def test_evaluation_is_the_previous_month_end(moment: date, expected: date) -> None:
    assert pipeline.evaluation_date_for(moment) == expected


def test_month_end() -> None:
    assert pipeline.month_end(date(2024, 2, 10)) == date(2024, 2, 29)


def test_stage_failure_is_reported_and_raised(tierwise_env, monkeypatch, capsys) -> None:
    progress_file = tierwise_env / "progress.log"
    monkeypatch.setenv("TIERWISE_PROGRESS_FILE", str(progress_file))

    def broken() -> tuple[str, dict]:
        raise TierwiseError("exports missing")

    with pytest.raises(TierwiseError):
        pipeline._run_stage("ingest", broken)
    assert "FAILED" in progress_file.read_text() and "exports missing" in progress_file.read_text()


def test_stage_result_is_small_and_jsonable(tierwise_env) -> None:
    result = pipeline._run_stage(
        pipeline.StageName.BUILD,
        lambda: ("3 models", {"counts": {"model:success": 3}, "day": date(2025, 1, 31)}),
    )
    assert (result.stage, result.line) == (pipeline.StageName.BUILD, "3 models")
    sent = json.loads(json.dumps(result.to_dict()))  # what XCom carries between tasks
    assert sent["details"] == {"counts": {"model:success": 3}, "day": "2025-01-31"}
    assert pipeline.StageResult.from_dict(sent).line == "3 models"


def test_stage_elapsed_is_the_seconds_of_its_work(tierwise_env) -> None:
    def work() -> tuple[str, dict]:
        time.sleep(0.2)
        return "built", {}

    started = time.perf_counter()
    result = pipeline._run_stage(pipeline.StageName.BUILD, work)
    outside = time.perf_counter() - started
    # At least the work's sleep, at most the call around it (the stage rounds to 3 decimals).
    assert 0.2 <= result.elapsed <= round(outside, 3) + 0.001


def test_a_snapshot_that_cannot_be_written_does_not_close_a_passed_gate(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tierwise.quality
    import tierwise.snapshot
    from tierwise import pipeline

    class Passed:
        data_docs_path = None

        def summary_lines(self) -> list[str]:
            return ["marts gate passed"]

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tierwise.quality, "run_gate", lambda *args, **kwargs: Passed())
    monkeypatch.setattr(tierwise.snapshot, "publish_snapshot", disk_full)
    result = pipeline.validate(pipeline.RunContext.create("r", as_of_date=None), "marts")
    assert result.line == "marts gate passed"
    assert result.details["snapshot"]["line"].startswith("FAILED: [Errno 28] No space left on device")


def test_ingest_details_list_only_the_files_worth_reading() -> None:
    from tierwise.ingest.report import FAILED, LOADED, UNCHANGED, FileResult, IngestReport

    files = (
        *(FileResult(f"orders_{day}.csv", LOADED, rows_read=10, rows_loaded=10) for day in range(700)),
        FileResult("orders_old.csv", UNCHANGED),
        FileResult("orders_bad.csv", LOADED, rows_read=5, rows_loaded=4, rows_quarantined=1),
        FileResult("orders_broken.csv", FAILED, error="not a CSV"),
    )
    report = IngestReport.from_files(
        source="orders", entity="orders", run_id="r1", interval=None, files=files, elapsed_seconds=1.0
    )
    details = pipeline._ingest_details(report)
    assert [file["path"] for file in details["files"]] == ["orders_bad.csv", "orders_broken.csv"]
    assert details["files_by_status"] == {LOADED: 701, UNCHANGED: 1, FAILED: 1}
    assert (details["files_seen"], details["rows_read"], details["rows_quarantined"]) == (703, 7005, 1)


def test_a_process_that_ran_a_stage_skips_the_final_collections(tierwise_env) -> None:
    import subprocess
    import sys

    # Registered first, so it runs last: it sees what the stage's exit handler did.
    code = (
        "import atexit, gc; atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
        "from tierwise import pipeline; pipeline._run_stage(pipeline.StageName.BUILD, lambda: ('x', {}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("frozen True")
