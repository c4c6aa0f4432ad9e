"""The offline index of Data Docs: plain links to the validation and suite pages."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from tierwise.quality.docs_index import INDEX_NAME, Validation, write_offline_index


def page(site: Path, relative: str) -> None:
    path = site / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html></html>", encoding="utf-8")


def links(html: str, heading: str) -> list[str]:
    section = html.split(heading, 1)[1].split("<h2>", 1)[0]
    return re.findall(r'<a href="([^"]+)">', section)


def test_validation_pages_are_listed_newest_run_first_then_the_suites(tmp_path: Path) -> None:
    page(tmp_path, "validations/raw.orders/run-a/20240101T000000Z/b1.html")
    page(tmp_path, "validations/raw.orders/run-c/20240301T000000Z/b1.html")
    page(tmp_path, "validations/marts.customer_tiers/run-b/20240201T000000Z/b2.html")
    page(tmp_path, "expectations/raw/orders.html")
    page(tmp_path, "validations/raw.orders/notes.txt")
    index = write_offline_index(tmp_path)
    assert index == tmp_path / INDEX_NAME == tmp_path / "tierwise_index.html"
    html = index.read_text(encoding="utf-8")
    assert links(html, "Validation results, newest first (3)") == [
        "validations/raw.orders/run-c/20240301T000000Z/b1.html",
        "validations/marts.customer_tiers/run-b/20240201T000000Z/b2.html",
        "validations/raw.orders/run-a/20240101T000000Z/b1.html",
    ]
    assert links(html, "Expectation suites (1)") == ["expectations/raw/orders.html"]
    assert "http" not in html  # nothing to fetch: it works offline


def test_the_list_is_capped_and_names_are_escaped(tmp_path: Path) -> None:
    for day in range(1, 6):
        page(tmp_path, f"validations/raw.orders/r&d/2024010{day}T000000Z/p.html")
    html = write_offline_index(tmp_path, limit=2).read_text(encoding="utf-8")
    assert links(html, "Validation results, newest first (2)") == [
        "validations/raw.orders/r&amp;d/20240105T000000Z/p.html",
        "validations/raw.orders/r&amp;d/20240104T000000Z/p.html",
    ]


def test_a_site_without_pages_gets_an_empty_index(tmp_path: Path) -> None:
    html = write_offline_index(tmp_path).read_text(encoding="utf-8")
    assert "Validation results, newest first (0)" in html and "Expectation suites (0)" in html
    assert "<li>" not in html and "<td>" not in html


def _validation(suite: str, run_id: str, **counts: int) -> Validation:
    given = {"passed": 0, "warned": 0, "failed": 0, "errors": 0, **counts}
    return Validation(suite, run_id, datetime(2024, 3, 1, 8, 30), sum(given.values()), rows=1204, **given)


def rows_of(html: str) -> list[list[str]]:
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr class=.*?</tr>", html)]


def test_each_validation_shows_its_status_time_and_counts(tmp_path: Path) -> None:
    page(tmp_path, "validations/raw.orders/run-c/20240301T000000Z/b1.html")
    page(tmp_path, "validations/marts.customer_tiers/run-c/20240301T000000Z/b2.html")
    page(tmp_path, "validations/raw.contacts/run-c/20240301T000000Z/b3.html")
    page(tmp_path, "validations/raw.tickets/run-x/20240301T000000Z/b4.html")
    statuses = {
        ("raw.orders", "run-c"): _validation("raw.orders", "run-c", passed=9, warned=1),
        ("marts.customer_tiers", "run-c"): _validation("marts.customer_tiers", "run-c", passed=5, failed=2),
        ("raw.contacts", "run-c"): _validation("raw.contacts", "run-c", passed=7),
    }
    html = write_offline_index(tmp_path, statuses=statuses).read_text(encoding="utf-8")
    table = {row[2]: row for row in rows_of(html)}
    assert table["raw.orders"][:7] == [
        "warn", "2024-03-01 08:30:00 UTC", "raw.orders", "run-c", "10",
        "9 passed, 1 warned, 0 failed, 0 errors", "1,204",
    ]  # fmt: skip
    assert table["marts.customer_tiers"][0] == "fail" and table["raw.contacts"][0] == "pass"
    assert table["raw.tickets"][0] == "unknown"  # a run ops.quality_results does not hold
    assert "1 pass, 1 warn, 1 fail" in html


def test_an_error_is_a_fail() -> None:
    assert _validation("raw.orders", "r", passed=3, errors=1).status == "fail"
