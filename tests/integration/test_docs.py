"""``tierwise docs`` on a small real warehouse: dbt's site in the publish folder, Data Docs with verdicts.

The session's shared home of tests/workspaces.py is copied: generated exports run through
``tierwise run`` as of November and December 2025, so dbt built the marts and both quality gates
ran twice (their results are in ``ops.quality_results``; GX rendered Data Docs into the home's
own copy of the GX project). Then ``tierwise docs`` runs dbt docs generate for real.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from tests.browser import dump_dom
from tests.workspaces import copy_home

from tierwise.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass
class Docs:
    root: Path
    warehouse: Path
    output: str


@pytest.fixture(scope="module")
def docs(two_evaluations: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    from tierwise.quality.runner import DATA_DOCS_INDEX

    root = tmp_path_factory.mktemp("docs")
    patch = copy_home(two_evaluations, root)
    assert (root / "expectations" / DATA_DOCS_INDEX).is_file(), "the gates rendered Data Docs in this home"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["docs"]) == 0
    yield Docs(root, root / "warehouse" / "tierwise.duckdb", out.getvalue())
    patch.undo()


def test_the_dbt_site_is_in_the_publish_folder_with_the_overview(docs: Docs) -> None:
    folder = docs.root / "publish" / "docs" / "dbt"
    for name in ("index.html", "manifest.json", "catalog.json", "static_index.html"):
        assert (folder / name).is_file(), name
        assert str(folder / name) in docs.output or name in {"manifest.json", "catalog.json"}
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    overview = manifest["docs"]["doc.tierwise.__overview__"]["block_contents"]
    assert "How to read a tier" in overview and "customer_tier_history" in overview
    catalog = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))
    assert "model.tierwise.customer_tiers" in catalog["nodes"]
    columns = catalog["nodes"]["model.tierwise.customer_tiers"]["columns"]
    assert "tier_code" in columns  # the catalog read the warehouse's tables


def test_the_single_file_site_renders_the_overview_offline(docs: Docs) -> None:
    page = docs.root / "publish" / "docs" / "dbt" / "static_index.html"
    dom = dump_dom(page.as_uri(), wait_ms=8000)
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "How to read a tier" in text
    assert "customer_tiers" in text  # the model tree, built from the embedded manifest


def _status(passed: int, warned: int, failed: int, errors: int) -> str:
    return "fail" if failed or errors else "warn" if warned else "pass"


def test_the_data_docs_index_shows_each_validations_status_as_recorded(docs: Docs) -> None:
    with duckdb.connect(str(docs.warehouse), read_only=True) as con:
        recorded = con.execute(
            "select suite, run_id, count(*) filter (outcome = 'passed'), "
            "count(*) filter (outcome = 'warned'), count(*) filter (outcome = 'failed'), "
            "count(*) filter (outcome = 'error'), "
            "strftime(max(validated_at), '%Y-%m-%d %H:%M:%S') from ops.quality_results group by 1, 2"
        ).fetchall()
    expected = {(suite, run): (_status(*counts[:4]), f"{counts[4]} UTC") for suite, run, *counts in recorded}
    index = next(docs.root.glob("expectations/**/tierwise_index.html"))
    html = index.read_text(encoding="utf-8")
    assert str(index) in docs.output
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr class=.*?</tr>", html)]
    shown = {(row[2], row[3]): (row[0], row[1]) for row in rows}
    assert shown == expected
    assert len(shown) >= 4  # raw and marts suites
