"""The `tierwise` command: every stage is reachable, errors exit non-zero with a message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from tests.support import shared_data

from tierwise.cli import build_parser, main
from tierwise_dev.generate import generate

REPO = Path(__file__).resolve().parents[2]
ONLINE_RETAIL = shared_data("online_retail")


def test_help_lists_every_stage_and_no_dev_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "--help"], capture_output=True, text=True, check=True
    )
    commands = done.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert commands == [
        "ingest",
        "build",
        "validate",
        "publish",
        "run",
        "explain",
        "docs",
        "simulate",
        "dbt",
        "metrics",
        "spark",
        "airflow",
    ]


def test_dbt_runs_by_hand_on_the_workspace_target(tierwise_env: Path) -> None:
    """The profile has no defaults: ``tierwise dbt`` gives dbt the workspace's target."""
    (tierwise_env / "warehouse").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "tierwise.cli", "dbt", "--", "debug"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(tierwise_env / "warehouse" / "tierwise.duckdb") in done.stdout
    assert "All checks passed!" in done.stdout


def test_an_unknown_destination_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        build_parser().parse_args(["publish", "--destination", "crmm"])
    assert usage.value.code == 2
    assert (
        "invalid choice: 'crmm' (choose from 'files', 'database', 'crm', 'notifications')"
        in capsys.readouterr().err
    )


def test_version_and_verbose_before_or_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as shown:
        build_parser().parse_args(["--version"])
    assert shown.value.code == 0 and capsys.readouterr().out.strip() == f"tierwise {version('tierwise')}"
    assert build_parser().parse_args(["build", "-v"]).verbose is True
    assert build_parser().parse_args(["-v", "build"]).verbose is True
    assert build_parser().parse_args(["build"]).verbose is False


def test_a_bad_date_is_refused_saying_what_a_date_is(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["build", "--as-of", "2025-13-01"])
    assert "argument --as-of: '2025-13-01' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_help_shows_defaults_worth_saying(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["validate", "--help"])
    told = " ".join(capsys.readouterr().out.split())
    assert "which gate to run (default: all)" in told and "(default: None)" not in told
    assert build_parser().parse_args(["publish", "--full-resync"]).full_resync is True


def test_parser_reads_run_options() -> None:
    argv = ["publish", "--as-of", "2025-12-31", "--dry-run", "--destination", "files"]
    args = build_parser().parse_args(argv)
    assert (str(args.as_of), args.dry_run, args.destination) == ("2025-12-31", True, ["files"])


def test_ingest_one_source(tierwise_env: Path) -> None:
    out = tierwise_env / "data"
    generate(out, customers=50, orders=300, seed=42)
    assert main(["ingest", "--source", "orders", "--data-dir", str(out)]) == 0
    with duckdb.connect(str(tierwise_env / "warehouse" / "tierwise.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.orders").fetchone()[0] >= 300


def test_ingest_a_config_file(tierwise_env: Path) -> None:
    if not ONLINE_RETAIL.exists():
        pytest.skip(f"{ONLINE_RETAIL} is not there")
    config = REPO / "examples" / "online_retail" / "orders.yml"
    assert main(["ingest", "--config", str(config), "--data-dir", str(ONLINE_RETAIL)]) == 0
    with duckdb.connect(str(tierwise_env / "warehouse" / "tierwise.duckdb"), read_only=True) as con:
        read, loaded, quarantined = con.execute(
            "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from ops.load_manifest"
        ).fetchone()
    assert (read, loaded, quarantined) == (541_909, 406_829, 135_080)


def test_stage_error_exits_non_zero(tierwise_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--source", "no_such_source"]) == 1
    assert "no source config named 'no_such_source'" in capsys.readouterr().err


def test_vars_are_checked_by_name_before_anything_runs(
    tierwise_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--vars", "{evaluation_window_month: all}"]) == 1
    err = capsys.readouterr().err
    assert "unknown rule 'evaluation_window_month'" in err and "evaluation_window_months" in err
    assert main(["build", "--vars", "[1, 2]"]) == 1
    assert "--vars must be a mapping" in capsys.readouterr().err
    assert main(["build", "--as-of", "2025-12-31", "--vars", "{as_of_date: 2025-06-30}"]) == 1
    assert "give the evaluation date as --as-of" in capsys.readouterr().err
    assert not (tierwise_env / "warehouse" / "tierwise.duckdb").exists()


def test_spark_status_says_where_the_local_server_is(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIERWISE_SPARK_DIR", str(tierwise_env / "spark"))
    monkeypatch.delenv("TIERWISE_SPARK_REMOTE", raising=False)
    monkeypatch.delenv("TIERWISE_SPARK_PORT", raising=False)
    assert main(["spark", "status"]) == 0
    told = capsys.readouterr().out
    assert "local Spark Connect server at sc://127.0.0.1:15002: not running" in told
    assert str(tierwise_env / "spark") in told


def test_airflow_listens_on_the_loopback_port_8080_without_login_by_default() -> None:
    args = build_parser().parse_args(["airflow"])
    assert (args.host, args.port, args.login) == ("127.0.0.1", 8080, False)
    args = build_parser().parse_args(["airflow", "--host", "0.0.0.0", "--port", "9000", "--login", "-v"])
    assert (args.host, args.port, args.login, args.verbose) == ("0.0.0.0", 9000, True, True)
