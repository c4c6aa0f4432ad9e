from __future__ import annotations

from datetime import date, datetime

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
    result = pipeline._run_stage("build", lambda: ("3 models", {"counts": {"model:success": 3}}))
    assert result["stage"] == "build" and result["line"] == "3 models"
    assert result["elapsed"] >= 0
