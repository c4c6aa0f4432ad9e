"""One small warehouse with two evaluations, built once per test session and copied per module.

Several integration modules need the same starting point: generated exports run through
``tierwise run`` as of 2025-11-30 and then 2025-12-31 (ingest, raw gate, dbt build, marts gate,
publish to the default destinations), so customers have a history and tier changes. Building it
takes minutes; copying it takes a second. The session fixture ``two_evaluations`` (tests/conftest.py)
builds the template the first time a module asks for it; each module then works on its own copy
(:func:`copy_home`), so what one module changes (marts, seeds, sync state, Data Docs) no other sees.

The template has its own dbt project and GX project, so builds and gates write their target,
Data Docs and validation results into it and never into the checkout. Paths recorded while the
template was built (run summaries, the ingest manifest) name the template, not the copy.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.support import isolate_tierwise

REPO = Path(__file__).resolve().parents[1]
NOVEMBER, DECEMBER = date(2025, 11, 30), date(2025, 12, 31)
EVALUATIONS = (NOVEMBER, DECEMBER)
# Enough customers and orders for every case the modules pick by SQL (silver and gold customers,
# ineligible ones, upgrades and new customers in December, grace under a stricter ladder); dirty
# rows so the quarantine is not empty. The modules assert each case they need exists.
CUSTOMERS, ORDERS, SEED, DIRTY, START = 400, 4_000, 7, 0.02, date(2025, 1, 1)


def home_patch(root: Path) -> pytest.MonkeyPatch:
    """Every Tierwise path below ``root``, with the dbt and GX projects of ``root``; undo when done."""
    patch = isolate_tierwise(root)
    patch.setenv("TIERWISE_DBT_PROJECT_DIR", str(root / "dbt_project"))
    patch.setenv("TIERWISE_EXPECTATIONS_DIR", str(root / "expectations"))
    return patch


def build_two_evaluations(root: Path) -> Path:
    """Generate the sample below ``root`` and ``tierwise run`` it as of November, then December."""
    from tierwise.cli import main
    from tierwise_dev.generate import generate

    shutil.copytree(
        REPO / "dbt_project", root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    shutil.copytree(
        REPO / "expectations", root / "expectations", ignore=shutil.ignore_patterns("uncommitted")
    )
    patch = home_patch(root)
    try:
        generate(
            root / "data",
            customers=CUSTOMERS,
            orders=ORDERS,
            seed=SEED,
            dirty=DIRTY,
            start=START,
            end=DECEMBER,
        )
        for day in EVALUATIONS:
            assert main(["run", "--as-of", day.isoformat()]) == 0, f"tierwise run --as-of {day} failed"
    finally:
        patch.undo()
    return root


def copy_home(template: Path, dest: Path) -> pytest.MonkeyPatch:
    """A copy of ``template`` at ``dest`` (an empty or absent folder), isolated on it; undo when done.

    dbt's partial-parse cache is left behind: it holds the template's absolute paths, and a
    copy parsing its own project costs a few seconds.
    """
    shutil.copytree(
        template,
        dest,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("partial_parse.msgpack", "partial_parse"),
    )
    return home_patch(dest)
