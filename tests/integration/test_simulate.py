"""``tierwise simulate`` on a small real warehouse with two evaluations (so grace applies).

The simulation must leave the live warehouse file, its build state, dbt's live target and the
published files byte-identical; its tiers must be those a real build with the proposed ladder
gives; invalid rules must fail with the rule checks' own words; changes.csv must list exactly
the customers whose tier differs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from tests.workspaces import DECEMBER, NOVEMBER, copy_home

pytestmark = [pytest.mark.slow]

PREVIOUS, EVALUATION = NOVEMBER, DECEMBER
# Higher thresholds than the seed's: customers earn lower tiers, and those graded in November
# keep theirs in grace (downgrade_grace_evaluations), which the simulation must apply too.
PROPOSED = """tier_code,tier_name,tier_rank,min_value,min_orders
platinum,Platinum,4,4000.00,4
gold,Gold,3,1200.00,3
silver,Silver,2,300.00,2
bronze,Bronze,1,150.00,1
unrated,Unrated,0,0.00,0
"""
OUT_OF_ORDER = PROPOSED.replace("gold,Gold,3,1200.00", "gold,Gold,3,250.00")
DUPLICATE_RANK = PROPOSED.replace("silver,Silver,2,", "silver,Silver,3,")


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file that must not change: the warehouse (build state inside), the publish
    folder, dbt's live target folder and the live dbt log."""
    files = [
        *root.joinpath("warehouse").rglob("*"),
        *root.joinpath("publish").rglob("*"),
        *root.joinpath("logs", "dbt").rglob("*"),
        *root.joinpath("dbt_project", "target").rglob("*"),
    ]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files if path.is_file()}


@pytest.fixture(scope="module")
def live(two_evaluations: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A warehouse evaluated as of November and December, published to files and the database
    (a copy of the session's shared home, tests/workspaces.py)."""
    root = tmp_path_factory.mktemp("simulate")
    patch = copy_home(two_evaluations, root)
    try:
        (root / "proposed.csv").write_text(PROPOSED, encoding="utf-8")
        yield root
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def simulated(live: Path) -> dict:
    """One simulation of the proposed ladder, with the digests before and after it."""
    from tierwise.cli import main

    before = _digests(live)
    out = live / "simulation"
    code = main(["simulate", "--ladder", str(live / "proposed.csv"), "--out", str(out)])
    return {"code": code, "out": out, "before": before, "after": _digests(live)}


def _tiers(warehouse: Path) -> dict[str, tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select customer_id, tier_code, tier_rule from marts.customer_tiers").fetchall()
    return {customer: (tier, rule) for customer, tier, rule in rows}


def _changes(out: Path) -> list[dict[str, str]]:
    with (out / "changes.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_nothing_live_changes(simulated: dict) -> None:
    assert simulated["code"] == 0
    assert any("tierwise.duckdb" in name for name in simulated["before"])
    assert any("/publish/files/" in name for name in simulated["before"])
    assert simulated["after"] == simulated["before"]


def test_the_simulated_tiers_are_those_of_a_real_build(
    live: Path, simulated: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real ``tierwise build`` with the proposed ladder on a copy gives the simulation's tiers."""
    from tierwise.cli import main

    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(live / "warehouse" / "tierwise.duckdb", copy)
    now = _tiers(copy)
    monkeypatch.setenv("TIERWISE_WAREHOUSE", str(copy))
    monkeypatch.setenv("TIERWISE_LOG_DIR", str(tmp_path / "logs"))
    ladder = json.dumps({"tier_ladder_file": str(live / "proposed.csv")})
    assert main(["build", "--as-of", EVALUATION.isoformat(), "--vars", ladder]) == 0
    real = _tiers(copy)
    assert any(rule.startswith("grace ") for _, rule in real.values()), "the case must exercise grace"
    changes = {row["customer_id"]: row for row in _changes(simulated["out"])}
    assert changes, "the proposed ladder must move someone"
    simulated_tiers = {
        customer: changes[customer]["proposed_tier_code"] if customer in changes else tier
        for customer, (tier, _) in now.items()
    }
    assert simulated_tiers == {customer: tier for customer, (tier, _) in real.items()}
    for customer, row in changes.items():
        assert row["proposed_tier_rule"] == real[customer][1]
        assert row["now_tier_rule"] == now[customer][1]


def test_changes_csv_lists_exactly_the_customers_whose_tier_differs(live: Path, simulated: dict) -> None:
    summary = json.loads((simulated["out"] / "summary.json").read_text(encoding="utf-8"))
    changes = _changes(simulated["out"])
    assert len(changes) == summary["moves"]["changed"] == len({row["customer_id"] for row in changes})
    assert all(row["now_tier_code"] != row["proposed_tier_code"] for row in changes)
    matrix_moves = sum(
        cell["customers"] for cell in summary["migration_matrix"] if cell["now"] != cell["proposed"]
    )
    assert matrix_moves == len(changes)
    proposed = {tier["tier_code"]: tier["proposed_customers"] for tier in summary["tier_mix"]}
    assert (
        sum(proposed.values()) == summary["customers"] == len(_tiers(live / "warehouse" / "tierwise.duckdb"))
    )


def test_the_report_holds_the_figures_and_no_personal_data(live: Path, simulated: dict) -> None:
    from tests.support import leaks, personal_values

    page = (simulated["out"] / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 3 and "Migration" in page and "Notifications it would send" in page
    names = ("report.html", "changes.csv", "summary.json")
    texts = {name: (simulated["out"] / name).read_text(encoding="utf-8") for name in names}
    found = personal_values(live / "warehouse" / "tierwise.duckdb")
    assert found and leaks(found, texts) == []


@pytest.mark.parametrize(
    ("ladder", "told"),
    [
        (OUT_OF_ORDER, "thresholds overlap or are out of order: gold (tier_rank 3, min_value 250.00)"),
        (DUPLICATE_RANK, "tier_rank 3 appears more than once"),
    ],
    ids=["thresholds-out-of-order", "duplicate-rank"],
)
def test_invalid_rules_fail_in_the_rule_checks_words(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], ladder: str, told: str
) -> None:
    from tierwise.cli import main

    proposed = tmp_path / "proposed.csv"
    proposed.write_text(ladder, encoding="utf-8")
    before = _digests(live)
    capsys.readouterr()
    code = main(["simulate", "--ladder", str(proposed), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "the proposed rules are invalid (nothing live changed): Invalid tier_ladder file" in err, err
    assert told in err, err
    assert "Traceback" not in err and "> in macro" not in err
    assert not (tmp_path / "out").exists()
    assert _digests(live) == before


def test_the_dags_task_simulates_its_params(live: Path) -> None:
    """What the manual DAG's task runs: vars only (the live ladder), an earlier evaluation given as
    the date param (the other marts are rebuilt for it too, or the tests reconciling them fail)."""
    from tierwise.orchestration import simulation

    before = _digests(live)
    params = {"ladder": None, "dbt_vars": {"abc_method": "rank"}, "as_of_date": PREVIOUS.isoformat()}
    done = simulation({"params": params, "run_id": "manual__simulate"})
    report = Path(done["report"])
    assert report.is_file() and report.parent.parent == live / "publish" / "simulations"
    summary = json.loads((report.parent / "summary.json").read_text(encoding="utf-8"))
    assert summary["proposed_vars"]["abc_method"] == "rank" and summary["ladder"] is None
    assert done["as_of_date"] == PREVIOUS.isoformat() and done["moves"] == summary["moves"]
    assert {name: digest for name, digest in _digests(live).items() if "/simulations/" not in name} == before
