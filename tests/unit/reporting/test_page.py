"""The page lays sections out, escapes what comes from data and shows what failed."""

from __future__ import annotations

from pathlib import Path

from tierwise.reporting.page import Link, Section, not_yet, render_page, section_or_error, write_page


def _broken() -> Section:
    raise ValueError("no rows")


def test_text_from_data_is_escaped() -> None:
    page = render_page(
        "Run <1>", "as of & then", [Section("Tiers", table_headers=["tier"], table_rows=[["<b>A</b>"]])]
    )
    assert "<b>A</b>" not in page and "&lt;b&gt;A&lt;/b&gt;" in page
    assert "Run &lt;1&gt;" in page and "as of &amp; then" in page


def test_numbers_are_formatted_and_links_kept() -> None:
    row = [Link("docs", "a b.html"), 12345, 0.5]
    section = Section("Gates", table_headers=["gate", "n", "share"], table_rows=[row])
    page = render_page("t", "s", [section])
    assert '<a href="a b.html">docs</a>' in page and "12,345" in page and "0.5" in page


def test_a_failing_section_shows_its_error_and_the_rest_still_renders() -> None:
    sections = [section_or_error("Broken", _broken), not_yet("Migrations", "no previous evaluation")]
    page = render_page("t", "s", sections)
    assert "Could not be drawn: ValueError: no rows" in page
    assert "Not yet: no previous evaluation" in page
    assert 'href="#migrations"' in page and 'id="broken"' in page


def test_write_page_replaces_whole(tmp_path: Path) -> None:
    target = write_page(tmp_path / "reports" / "latest.html", "<html>one</html>")
    write_page(target, "<html>two</html>")
    assert target.read_text(encoding="utf-8") == "<html>two</html>"
    assert [path.name for path in target.parent.iterdir()] == ["latest.html"]
