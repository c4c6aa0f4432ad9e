"""Publishing refuses marts whose latest marts gate did not pass, or has not run since the build."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from tests.fakes.warehouse import build_marts, execute, record_passed_gate
from tests.support import engine_at, isolate_tierwise, run_context

from tierwise.exceptions import GateNotPassedError
from tierwise.publish import publish
from tierwise.quality.report import FAILED, ExpectationResult
from tierwise.quality.store import write_results

AS_OF = date(2024, 1, 31)


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_tierwise(tmp_path, monkeypatch, home=True)
    return build_marts(tmp_path / "warehouse.duckdb", customers=60)


def fail_gate(warehouse: Path, run_id: str = "gate-2") -> None:
    failed = ExpectationResult(
        "marts.customer_tiers",
        "customer_tiers.a_share_in_bounds",
        "unexpected_rows_expectation",
        None,
        "critical",
        FAILED,
        False,
        observed_value="0.97",
    )
    with engine_at(warehouse).connect() as con:
        now = datetime.now(UTC).replace(tzinfo=None)
        write_results(con, [failed], run_id=run_id, validated_at=now, as_of_date=AS_OF, gate="marts")


def published(warehouse: Path) -> list[object]:
    files = warehouse.parent / "publish" / "files"
    return sorted(files.iterdir()) if files.exists() else []


def test_marts_that_passed_their_gate_are_published(warehouse: Path) -> None:
    report = publish(["files", "database"], run_context("run-1", warehouse=warehouse))
    assert report.gate_override is None
    assert published(warehouse)


def test_a_failed_gate_stops_publishing_and_names_the_failed_checks(warehouse: Path) -> None:
    fail_gate(warehouse)
    with pytest.raises(GateNotPassedError) as refused:
        publish(["files", "database"], run_context("run-1", warehouse=warehouse))
    message = str(refused.value)
    assert "customer_tiers.a_share_in_bounds (observed 0.97)" in message
    assert "gate run gate-2" in message and "--override-gate" in message
    assert published(warehouse) == []
    assert not (warehouse.parent / "publish" / "operational.sqlite").exists()
    assert execute(
        warehouse, "select count(*) from information_schema.tables where table_name = 'sync_runs'"
    ) == [(0,)]


def test_a_later_passed_gate_opens_it_again(warehouse: Path) -> None:
    fail_gate(warehouse)
    with engine_at(warehouse).connect() as con:
        record_passed_gate(con, AS_OF, run_id="gate-3")
    assert publish(["files"], run_context("run-1", warehouse=warehouse)).gate_override is None


@pytest.mark.parametrize("gate_ran_before", [True, False], ids=["gate-before-build", "no-gate-at-all"])
def test_no_gate_since_the_last_build_stops_publishing(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch, gate_ran_before: bool
) -> None:
    if not gate_ran_before:
        execute(warehouse, "delete from ops.quality_results")
    monkeypatch.setenv("TIERWISE_WAREHOUSE", str(warehouse))
    # What a writing dbt run records before it changes the marts (macros/build_state.sql).
    execute(
        warehouse,
        "create schema if not exists ops; create table if not exists ops.build_state (as_of_date date, "
        "digest varchar, parts json, run_id varchar, built_at timestamp); insert into ops.build_state "
        "(run_id, built_at) values ('build-after-the-gate', timezone('UTC', now()))",
    )
    with pytest.raises(GateNotPassedError, match=r"has not run on the marts.*tierwise validate --gate marts"):
        publish(["files"], run_context("run-1", warehouse=warehouse))
    assert published(warehouse) == []


def test_an_override_publishes_loudly_and_is_recorded(
    warehouse: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_gate(warehouse)
    with caplog.at_level(logging.WARNING):
        report = publish(
            ["files", "database"],
            run_context("run-1", warehouse=warehouse, gate_override="known outlier, approved"),
        )
    assert published(warehouse)
    assert report.headline().startswith("GATE OVERRIDDEN")
    assert any("a_share_in_bounds" in line for line in report.summary_lines() if line.startswith("WARNING"))
    assert "known outlier, approved" in caplog.text
    rows = execute(
        warehouse,
        "select status, error from ops.sync_runs where run_id = 'run-1' and destination = 'marts_gate'",
    )
    assert len(rows) == 1 and rows[0][0] == "overridden"
    assert "known outlier, approved" in str(rows[0][1]) and "a_share_in_bounds" in str(rows[0][1])


def test_a_dry_run_only_warns(warehouse: Path, caplog: pytest.LogCaptureFixture) -> None:
    fail_gate(warehouse)
    with caplog.at_level(logging.WARNING):
        report = publish(["files"], run_context("dry", warehouse=warehouse, dry_run=True))
    assert report.dry_run and "a real publish would refuse" in caplog.text
    assert published(warehouse) == []
