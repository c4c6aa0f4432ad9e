from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

from tierwise.transform import BuildReport, NodeResult, _node_results, dbt_args


def test_args_carry_the_evaluation_date_and_keep_logs_out_of_the_console(tierwise_env) -> None:
    args = dbt_args("build", as_of_date=date(2025, 12, 31), full_refresh=True, select=["marts"])
    assert args[args.index("--log-level") + 1] == "none"
    assert json.loads(args[args.index("--vars") + 1]) == {"as_of_date": "2025-12-31"}
    assert "--full-refresh" in args and args[args.index("--select") + 1] == "marts"
    assert args.index("build") < args.index("--project-dir")


def test_docs_command_has_no_full_refresh(tierwise_env) -> None:
    assert "--full-refresh" not in dbt_args("docs", as_of_date=None, full_refresh=True, select=[])


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
