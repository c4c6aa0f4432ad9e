"""tierwise.simulate's refusals and messages, before any dbt runs (tests/integration/test_simulate.py
runs whole simulations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support import run_context

from tierwise.cli import main
from tierwise.exceptions import SimulationError
from tierwise.settings import EngineName
from tierwise.simulate import Proposal, _in_users_words, simulate

LADDER = "tier_code,tier_name,tier_rank,min_value,min_orders\nunrated,Unrated,0,0,0\nbronze,Bronze,1,10,1\n"


def test_rules_are_required(tierwise_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate"]) == 1
    assert "give the rules to try: --ladder FILE, --vars YAML or both" in capsys.readouterr().err


def test_a_missing_ladder_file_is_named(tierwise_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--ladder", str(tierwise_env / "nope.csv")]) == 1
    err = capsys.readouterr().err
    assert "nope.csv: no such file (a CSV with the columns of seeds/tier_ladder.csv)" in err


def test_without_a_warehouse_it_says_build_first(tierwise_env: Path) -> None:
    ladder = tierwise_env / "ladder.csv"
    ladder.write_text(LADDER, encoding="utf-8")
    with pytest.raises(SimulationError, match=r"no warehouse at .*: ingest and build before simulating"):
        simulate(run_context(), Proposal(ladder=ladder))
    assert not (tierwise_env / "publish" / "simulations").exists()


def test_spark_is_refused(tierwise_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_ENGINE", "spark")
    ctx = run_context()
    assert ctx.engine.name is EngineName.SPARK
    with pytest.raises(SimulationError, match="DuckDB warehouse only"):
        simulate(ctx, Proposal(dbt_vars={"abc_method": "rank"}))


def test_unknown_vars_are_refused_by_name(tierwise_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--vars", "{abc_metod: rank}"]) == 1
    assert "unknown rule 'abc_metod'" in capsys.readouterr().err


def test_the_rule_checks_message_is_kept_without_dbts_wrapping() -> None:
    told = (
        "dbt build could not run: Compilation Error in operation tierwise-on-run-start-1\n"
        "  Invalid tier_ladder file /x/p.csv, var tier_ladder_file:\n"
        "    - tier_rank 3 appears more than once\n"
        "  Nothing was loaded or built: correct the file(s) named above and build again.\n"
        "  > in macro tierwise_validate_seeds (macros/validate_rules.sql)\n"
    )
    assert _in_users_words(told) == (
        "the proposed rules are invalid (nothing live changed): Invalid tier_ladder file /x/p.csv, "
        "var tier_ladder_file:\n  - tier_rank 3 appears more than once"
    )


def test_the_ladder_goes_in_as_var_tier_ladder_file_over_the_live_vars(tmp_path: Path) -> None:
    proposal = Proposal(ladder=tmp_path / "l.csv", dbt_vars={"abc_method": "rank"})
    built = proposal.build_vars({"abc_method": "share", "evaluation_window_months": 6})
    assert built == {
        "abc_method": "rank",
        "evaluation_window_months": 6,
        "tier_ladder_file": str(tmp_path / "l.csv"),
    }
