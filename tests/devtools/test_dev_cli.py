"""The `tierwise-dev` command: generate, demo and bench are reachable; errors exit non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tierwise_dev.cli import build_parser, main


def test_help_lists_the_dev_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tierwise_dev.cli", "--help"], capture_output=True, text=True, check=True
    )
    commands = done.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert commands == ["generate", "demo", "bench"]


def test_bench_defaults_write_to_bench_results() -> None:
    args = build_parser().parse_args(["bench"])
    assert (args.sizes, args.out, args.quick) == ("100000", "bench/results", False)


def test_generate_writes_a_sample(tierwise_env: Path) -> None:
    out = tierwise_env / "data"
    argv = ["generate", "--out", str(out), "--customers", "50", "--orders", "300", "--seed", "3"]
    assert main([*argv, "--end", "2025-03-31", "--no-progress"]) == 0
    parameters = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["parameters"]
    assert (parameters["customers"], parameters["orders"], parameters["seed"]) == (50, 300, 3)
    assert parameters["end"] == "2025-03-31"


def test_generate_error_exits_non_zero(tierwise_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tierwise_env / "data"), "--customers", "0", "--no-progress"]) == 1
    assert "tierwise-dev generate: generate: customers must be >= 1" in capsys.readouterr().err
