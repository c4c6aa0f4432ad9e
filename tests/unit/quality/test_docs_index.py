"""The offline index of Data Docs: plain links to the validation and suite pages."""

from __future__ import annotations

import re
from pathlib import Path

from tierwise.quality.docs_index import INDEX_NAME, write_offline_index


def page(site: Path, relative: str) -> None:
    path = site / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html></html>", encoding="utf-8")


def links(html: str, heading: str) -> list[str]:
    section = html.split(heading, 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<li><a href="([^"]+)">', section)


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
    assert "<li>" not in html
