from __future__ import annotations

import os
from datetime import date
from types import SimpleNamespace

from tierwise.transform import AS_OF_ENV, BuildReport, NodeResult, _node_results, dbt_args, set_as_of_date


def test_args_keep_logs_out_of_the_console_and_the_date_out_of_vars(tierwise_env) -> None:
    args = dbt_args("build", full_refresh=True, select=["marts"])
    assert args[args.index("--log-level") + 1] == "none"
    assert "--vars" not in args
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test"
    assert "--full-refresh" in args and args[args.index("--select") + 1] == "marts"
    assert args.index("build") < args.index("--project-dir")


def test_unit_tests_run_in_the_build_when_asked(tierwise_env, monkeypatch) -> None:
    from tierwise.settings import reset_settings

    monkeypatch.setenv("TIERWISE_DBT_UNIT_TESTS", "1")
    reset_settings()
    assert "--exclude-resource-type" not in dbt_args("build", full_refresh=False, select=[])
    reset_settings()


def test_docs_command_has_no_full_refresh(tierwise_env) -> None:
    assert "--full-refresh" not in dbt_args("docs", full_refresh=True, select=[])


def test_the_evaluation_date_goes_through_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(AS_OF_ENV, "1999-01-31")
    set_as_of_date(date(2025, 12, 31))
    assert os.environ[AS_OF_ENV] == "2025-12-31"
    set_as_of_date(None)
    assert AS_OF_ENV not in os.environ


def test_node_results_from_a_run_result() -> None:
    result = SimpleNamespace(
        results=[
            SimpleNamespace(
                node=SimpleNamespace(unique_id="model.tierwise.customer_tiers"),
                status=SimpleNamespace(value="success"),
                message="OK",
                failures=None,
                execution_time=1.5,
            ),
            SimpleNamespace(
                node=SimpleNamespace(unique_id="test.tierwise.unique_customer_tiers_customer_id"),
                status="fail",
                message="Got 2 results",
                failures=2,
                execution_time=0.1,
            ),
        ]
    )
    nodes = _node_results(result)
    report = BuildReport(command="build", success=False, elapsed=2.0, nodes=nodes)
    assert [n.status for n in report.failed] == ["fail"]
    assert "FAILED (1 failing)" in report.summary_line()
    assert "1 models" in report.summary_line() and "1 tests" in report.summary_line()
    assert NodeResult("model.x", "success", "", None, 1.5).log_line().startswith("success")
