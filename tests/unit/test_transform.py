from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from tests.support import run_context, settings

from tierwise.context import RunContext
from tierwise.transform import (
    AS_OF_ENV,
    BLAS_THREADS_ENV,
    INVOCATION_ENV,
    KEPT_PARSES,
    RUN_ID_ENV,
    BuildReport,
    NodeResult,
    _copy_to_read,
    _keep_parse,
    _node_results,
    _run_results,
    dbt_args,
    dbt_env,
    dbt_errors,
    parse_cache,
)


def test_args_keep_only_errors_on_the_console_and_the_date_out_of_vars(tierwise_env: Path) -> None:
    args = dbt_args(settings(), "build", full_refresh=True, select=["marts"])
    assert args[args.index("--log-level") + 1] == "error"
    assert "--vars" not in args
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test"
    assert "--full-refresh" in args and args[args.index("--select") + 1] == "marts"
    assert args.index("build") < args.index("--project-dir")


def test_unit_tests_run_in_the_build_when_asked(tierwise_env: Path) -> None:
    assert "--exclude-resource-type" not in dbt_args(settings(dbt_unit_tests=True), "build")


def test_docs_command_has_no_full_refresh(tierwise_env: Path) -> None:
    assert "--full-refresh" not in dbt_args(settings(), "docs", full_refresh=True)


def test_the_run_reaches_dbt_through_the_dbt_process_environment_only(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AS_OF_ENV, "1999-01-31")
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    before = dict(os.environ)
    ctx = run_context("r1", warehouse=tierwise_env / "w.duckdb")
    env = dbt_env(ctx, date(2025, 12, 31))
    assert (env[AS_OF_ENV], env[RUN_ID_ENV]) == ("2025-12-31", "r1")
    assert env["TIERWISE_WAREHOUSE"] == str(tierwise_env / "w.duckdb")
    assert env["TIERWISE_DBT_TARGET"] == "duckdb" and env["TIERWISE_DBT_THREADS"] == "2"
    assert env[BLAS_THREADS_ENV] == "1"
    # No date: dbt takes the latest order date, not one left in this process's environment.
    assert AS_OF_ENV not in dbt_env(ctx, None)
    assert dict(os.environ) == before
    monkeypatch.setenv(BLAS_THREADS_ENV, "4")  # a user's own choice stays
    assert dbt_env(ctx, None)[BLAS_THREADS_ENV] == "4"


def test_node_results_from_run_results_json() -> None:
    run_results = {
        "results": [
            {
                "unique_id": "model.tierwise.customer_tiers",
                "status": "success",
                "message": "OK",
                "failures": None,
                "execution_time": 1.5,
            },
            {
                "unique_id": "test.tierwise.unique_customer_tiers_customer_id",
                "status": "fail",
                "message": "Got 2 results",
                "failures": 2,
                "execution_time": 0.1,
            },
        ]
    }
    nodes = _node_results(run_results)
    report = BuildReport(command="build", success=False, elapsed=2.0, nodes=nodes)
    assert [n.status for n in report.failed] == ["fail"]
    assert nodes[0].seconds == 1.5 and nodes[1].failures == 2
    assert "FAILED (1 failing)" in report.summary_line()
    assert "1 models" in report.summary_line() and "1 tests" in report.summary_line()
    assert NodeResult("model.x", "success", "", None, 1.5).log_line().startswith("success")


PARENT = """
import os, subprocess, sys, time
from tierwise.transform import _die_with_parent
sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
child = subprocess.Popen(sleeper, preexec_fn=_die_with_parent(os.getpid()))
print(child.pid, flush=True)
time.sleep(120)
"""


def test_dbt_dies_with_a_stage_killed_by_sigkill() -> None:
    """``kill -9`` of ``tierwise run`` must not leave dbt writing the warehouse and holding its lock."""
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(child, 0)  # running
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the child outlived its parent's SIGKILL")


DBT_CRASH = """\
21:56:42  Encountered an error:
Parser Error: Memory must have a number (e.g. 1GB)
21:56:42  Traceback (most recent call last):
  File "dbt/adapters/duckdb/connections.py", line 110, in exception_handler
    yield
_duckdb.ParserException: Parser Error: Memory must have a number (e.g. 1GB)
"""


def test_dbt_errors_keep_the_message_and_drop_the_traceback() -> None:
    assert dbt_errors(DBT_CRASH) == "Parser Error: Memory must have a number (e.g. 1GB)"
    rules = "10:00:01  Compilation Error in operation x\n  Invalid rule:\n    - var abc_method: got foo\n"
    assert (
        dbt_errors(rules)
        == "Compilation Error in operation x\n  Invalid rule:\n    - var abc_method: got foo"
    )
    assert (
        dbt_errors("", "ModuleNotFoundError: No module named 'dbt'\n")
        == "ModuleNotFoundError: No module named 'dbt'"
    )


def test_run_results_written_by_another_build_are_not_taken(tmp_path: Path) -> None:
    """The target folder is shared by every warehouse of a project checkout."""
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps({"metadata": {"env": {"TIERWISE_INVOCATION": "theirs"}}, "results": [{}]}))
    assert _run_results(path, {INVOCATION_ENV: "ours"}) == {}
    path.write_text('{"metadata": {"env": {"TIERWISE_INVO')  # being written by the other build
    assert _run_results(path, {INVOCATION_ENV: "ours"}) == {}
    path.write_text(json.dumps({"metadata": {"env": {"TIERWISE_INVOCATION": "ours"}}, "results": []}))
    assert _run_results(path, {INVOCATION_ENV: "ours"})["results"] == []


def test_a_dbt_that_cannot_start_says_why_in_one_line(tierwise_env: Path) -> None:
    from tierwise.exceptions import BuildError
    from tierwise.transform import run_dbt

    ctx = run_context("bad_limit")
    ctx = RunContext.create("bad_limit", settings=replace(ctx.settings, duckdb_memory_limit="lots"))
    with pytest.raises(BuildError) as failed:
        run_dbt(ctx, "seed", select=["tier_ladder"])
    assert str(failed.value) == "dbt seed could not run: Parser Error: Memory must have a number (e.g. 1GB)"


def test_each_warehouse_keeps_its_own_parse_of_the_project(tierwise_env: Path, tmp_path: Path) -> None:
    """dbt drops a saved parse made against another warehouse path: one copy per target."""
    first = run_context("r1", warehouse=tierwise_env / "a.duckdb").engine.dbt_env()
    other = run_context("r1", warehouse=tierwise_env / "b.duckdb").engine.dbt_env()
    again = run_context("r2", warehouse=tierwise_env / "a.duckdb").engine.dbt_env()
    assert parse_cache(tmp_path, first) == parse_cache(tmp_path, again) != parse_cache(tmp_path, other)
    written = tmp_path / "partial_parse.msgpack"
    written.write_bytes(b"parsed")
    _keep_parse(written, parse_cache(tmp_path, first))
    assert parse_cache(tmp_path, first).read_bytes() == b"parsed"
    assert [path.name for path in parse_cache(tmp_path, first).parent.iterdir()] == [
        parse_cache(tmp_path, first).name
    ]
    reading = _copy_to_read(parse_cache(tmp_path, first), "inv1")
    assert reading is not None and reading.read_bytes() == b"parsed"
    assert _copy_to_read(parse_cache(tmp_path, other), "inv2") is None  # nothing kept: a full parse
    for number in range(KEPT_PARSES + 3):  # a test suite's many warehouses: the newest are kept
        _keep_parse(written, tmp_path / "partial_parse" / f"{number:02d}.msgpack")
    assert len(list((tmp_path / "partial_parse").glob("*.msgpack"))) == KEPT_PARSES
