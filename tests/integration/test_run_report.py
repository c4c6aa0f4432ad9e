"""The run report of real runs: two month ends evaluated by `tierwise run` on a small generated sample
(the session's shared template of tests/workspaces.py, copied for this module).

The first evaluation has no previous one, so its report says the migration matrix is not there
yet; the second has one. The numbers in the report's tables are compared with the marts and
ops tables queried here in plain SQL, and the page is rendered in headless Chromium.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.browser import dump_dom, screenshot
from tests.support import leaks, personal_values
from tests.workspaces import DECEMBER, NOVEMBER, copy_home

pytestmark = [pytest.mark.slow]

FIRST, SECOND = NOVEMBER, DECEMBER
SECTION_IDS = (
    "run-stages",
    "tier-mix",
    "pareto-curve-and-abc-classes",
    "tier-migration-since-the-previous-evaluation",
    "tier-mix-over-the-last-evaluations",
    "eligibility-reasons",
    "quarantined-rows-by-source-and-reason",
    "quality-gates",
    "quality-checks-that-warned-or-failed",
    "publish-results-per-destination",
    "clv-fit-diagnostics",
)


@pytest.fixture(scope="module")
def runs(two_evaluations: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("report")
    patch = copy_home(two_evaluations, root)
    try:
        summaries = [json.loads(path.read_text()) for path in (root / "logs" / "runs").glob("*.json")]
        outputs = {date.fromisoformat(summary["facts"]["as_of_date"]): summary for summary in summaries}
        assert len(summaries) == 2 and sorted(outputs) == [FIRST, SECOND], "one run summary per evaluation"
        yield {"root": root, "origin": two_evaluations, "summaries": outputs}
    finally:
        patch.undo()


class _Tables(HTMLParser):
    """Each section's table (header cells, body rows) and its text, by section id."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, Any]] = {}
        self._section: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._section = dict(attrs)["id"]
            self.sections[self._section] = {"headers": [], "rows": [], "text": "", "svgs": 0}
        elif self._section and tag == "svg":
            self.sections[self._section]["svgs"] += 1
        elif self._section and tag == "tr":
            self._row = []
        elif self._section and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        section = self.sections.get(self._section or "")
        if section is None:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if section["headers"]:
                section["rows"].append(self._row)
            else:
                section["headers"] = self._row
            self._row = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._section:
            self.sections[self._section]["text"] += data


def _sections(path: Path) -> dict[str, dict[str, Any]]:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.sections


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _grid(columns: list[str], rows: list[list[str]]) -> dict[tuple[str, str], float]:
    """(row label, column) -> number of a table whose first cell labels the row."""
    return {
        (row[0], column): _number(cell) for row in rows for column, cell in zip(columns, row[1:], strict=True)
    }


def _con(runs: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(runs["root"] / "warehouse" / "tierwise.duckdb"), read_only=True)


def _query(runs: dict[str, Any], sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` on the warehouse, read here independently of the report."""
    with _con(runs) as con:
        return con.execute(sql, parameters).fetchall()


def _reports(runs: dict[str, Any]) -> Path:
    return runs["root"] / "publish" / "reports"


def _latest(runs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _sections(_reports(runs) / "latest.html")


def test_each_evaluation_has_its_report_and_latest_is_the_last(runs: dict[str, Any]) -> None:
    reports = _reports(runs)
    assert sorted(path.name for path in reports.iterdir()) == [
        "latest.html",
        f"run-{FIRST}.html",
        f"run-{SECOND}.html",
    ]
    assert (reports / "latest.html").read_bytes() == (reports / f"run-{SECOND}.html").read_bytes()


def test_the_run_summary_names_the_report(runs: dict[str, Any]) -> None:
    # The runs ran in the template: their summaries name its reports, which this copy holds too.
    ran_in = runs["origin"] / "publish" / "reports"
    for day, summary in runs["summaries"].items():
        report = summary["report"]
        assert report["path"] == str(ran_in / f"run-{day}.html")
        assert (_reports(runs) / f"run-{day}.html").stat().st_size == report["size_bytes"]
        assert report["errors"] == [] and report["size_bytes"] > 10_000
    text = (runs["root"] / "logs" / "last_run_summary.txt").read_text(encoding="utf-8")
    assert f"  run report    {ran_in / f'run-{SECOND}.html'}" in text


def test_no_previous_evaluation_says_not_yet(runs: dict[str, Any]) -> None:
    first = _sections(_reports(runs) / f"run-{FIRST}.html")
    migration = first["tier-migration-since-the-previous-evaluation"]
    assert "Not yet: no previous evaluation" in migration["text"]
    assert migration["svgs"] == 0 and migration["rows"] == []
    assert "Only one evaluation so far" in first["tier-mix-over-the-last-evaluations"]["text"]


def test_tier_mix_equals_the_marts(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        "select tier_code, count(*), round(sum(window_net_revenue), 2) from marts.customer_tiers group by 1",
    )
    rows = _latest(runs)["tier-mix"]["rows"]
    shown = {row[0]: (_number(row[2]), _number(row[4])) for row in rows if row[0] != "total"}
    assert {code: n for code, (n, _) in shown.items() if n} == {code: n for code, n, _ in expected}
    for code, n, revenue in expected:
        assert shown[code][0] == n and shown[code][1] == pytest.approx(float(revenue), abs=0.01)


def test_abc_classes_and_cutoffs_equal_the_marts(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        "select abc_class, count(*), round(sum(measure_value), 2) from marts.customer_tiers group by 1",
    )
    section = _latest(runs)["pareto-curve-and-abc-classes"]
    shown = {row[0]: (_number(row[1]), _number(row[3])) for row in section["rows"]}
    assert shown == {cls: (n, pytest.approx(float(value), abs=0.01)) for cls, n, value in expected}
    assert "ABC method share, cut-offs a 0.8, b 0.95" in section["text"]
    assert section["svgs"] == 1


def test_migration_matrix_equals_the_history(runs: dict[str, Any]) -> None:
    with _con(runs) as con:
        pairs = con.execute(
            """
            select before.tier_code, after.tier_code, count(*)
            from marts.customer_tier_history as before
            join marts.customer_tier_history as after using (customer_id)
            where before.as_of_date = ? and after.as_of_date = ?
            group by 1, 2
            """,
            [FIRST, SECOND],
        ).fetchall()
        new = con.execute(
            "select count(*) from marts.customer_tier_history where as_of_date = ? and customer_id not in "
            "(select customer_id from marts.customer_tier_history where as_of_date = ?)",
            [SECOND, FIRST],
        ).fetchone()[0]
        upgrades = con.execute(
            "select count(*) from marts.tier_changes where as_of_date = ? and change_type = 'upgrade'",
            [SECOND],
        ).fetchone()[0]
    assert upgrades and new, "the shared home has upgrades and new customers in the second evaluation"
    section = _latest(runs)["tier-migration-since-the-previous-evaluation"]
    columns = section["headers"][1:-1]
    matrix = _grid(columns, [row[:-1] for row in section["rows"]])
    assert {key: n for key, n in matrix.items() if "(" not in "".join(key) and n} == {
        (before, after): n for before, after, n in pairs
    }
    assert sum(n for (before, _), n in matrix.items() if before == "(new)") == new
    ranks = {"platinum": 4, "gold": 3, "silver": 2, "bronze": 1, "unrated": 0}
    moved_up = sum(n for (a, b), n in matrix.items() if a in ranks and b in ranks and 0 < ranks[a] < ranks[b])
    assert moved_up == upgrades
    assert section["svgs"] == 1


def test_tier_history_equals_the_marts(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        "select cast(as_of_date as varchar), tier_code, count(*) from marts.customer_tier_history "
        "group by 1, 2",
    )
    section = _latest(runs)["tier-mix-over-the-last-evaluations"]
    tiers = section["headers"][1:]
    shown = _grid(tiers, section["rows"])
    assert {key: n for key, n in shown.items() if n} == {(day, tier): n for day, tier, n in expected}
    assert [row[0] for row in section["rows"]] == [str(FIRST), str(SECOND)]


def test_eligibility_equals_the_marts(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        "select coalesce(ineligibility_reason, 'eligible'), count(*) from marts.customer_tiers group by 1",
    )
    rows = _latest(runs)["eligibility-reasons"]["rows"]
    assert {row[0]: _number(row[1]) for row in rows} == dict(expected)


def test_quarantine_equals_the_warehouse(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        "select source, reason, count(*) from (select source, reason from quarantine.orders union all "
        "select source, reason from quarantine.contacts union all select source, reason from "
        "quarantine.tickets) group by 1, 2",
    )
    rows = _latest(runs)["quarantined-rows-by-source-and-reason"]["rows"]
    assert expected, "the dirty sample quarantines rows"
    assert {(row[0], row[1]): _number(row[2]) for row in rows} == {(s, r): n for s, r, n in expected}


def test_quality_gates_equal_the_results_and_link_the_data_docs(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        """
        select gate, count(*) filter (where outcome = 'passed'),
               count(*) filter (where outcome = 'failed')
        from ops.quality_results
        where (gate, validated_at) in (select gate, max(validated_at) from ops.quality_results group by 1)
        group by 1
        """,
    )
    section = _latest(runs)["quality-gates"]
    headers = section["headers"]
    shown = {
        row[0]: (_number(row[headers.index("passed")]), _number(row[headers.index("failed")]))
        for row in section["rows"]
    }
    assert shown == {gate: (passed, failed) for gate, passed, failed in expected}
    assert set(shown) == {"raw", "marts"}
    page = (_reports(runs) / "latest.html").read_text(encoding="utf-8")
    link = re.search(r'<a href="([^"]+tierwise_index\.html)">Data Docs</a>', page)
    assert link and (_reports(runs) / link.group(1)).resolve().is_file()


def test_publish_results_equal_the_sync_runs(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        "select destination, status, sent, unchanged from ops.sync_runs "
        "qualify row_number() over (partition by destination order by started_at desc) = 1",
    )
    section = _latest(runs)["publish-results-per-destination"]
    headers = section["headers"]
    shown = {
        row[0]: (row[1], _number(row[headers.index("sent")]), _number(row[headers.index("unchanged")]))
        for row in section["rows"]
    }
    assert shown == {dest: (status, sent, unchanged) for dest, status, sent, unchanged in expected}


def test_clv_fits_equal_the_marts(runs: dict[str, Any]) -> None:
    expected = _query(
        runs,
        "select model_name, fit_status, n_customers from marts.clv_fit_diagnostics",
    )
    rows = _latest(runs)["clv-fit-diagnostics"]["rows"]
    told = {model: (status, f"{n:,}" if n is not None else "") for model, status, n in expected}
    assert {row[0]: (row[1], row[3]) for row in rows} == told


def test_the_page_has_no_external_reference_and_no_personal_data(runs: dict[str, Any]) -> None:
    for page in _reports(runs).glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.IGNORECASE)
        assert not re.search(r"https?://(?!www\.w3\.org/)", text)
        assert "<script" not in text and "<link" not in text and "@import" not in text
        values = personal_values(runs["root"] / "warehouse" / "tierwise.duckdb")
        assert values and leaks(values, {page.name: text}) == []


def test_headless_chromium_renders_the_charts(runs: dict[str, Any], tmp_path: Path) -> None:
    from PIL import Image

    url = (_reports(runs) / "latest.html").as_uri()
    dom = dump_dom(url)
    assert dom.count("<svg") >= 9
    for section_id in SECTION_IDS:
        assert f'id="{section_id}"' in dom
    for title in ("Tier mix", "Pareto curve and ABC classes", "Quality gates", "CLV fit diagnostics"):
        assert f">{title}</h2>" in dom
    image = Image.open(screenshot(url, tmp_path / "report.png")).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    white = sum(count for count, colour in colours if colour == (255, 255, 255))
    assert len(colours) > 200, "a blank or single-colour page"
    assert white < 0.9 * image.width * image.height
