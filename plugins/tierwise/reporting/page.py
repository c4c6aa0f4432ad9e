"""One self-contained HTML page of sections: a chart, the table of its numbers, and a note.

The page has inline CSS and inline SVG only, so it opens from a file, a mail attachment or an
air-gapped share alike. Every text that comes from data is escaped; the SVG of a chart is
trusted (it comes from :mod:`tierwise.reporting.charts`). A section that could not be built is
shown with its error rather than dropped, so a broken chart is visible but never breaks the page.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Link:
    """A table cell or note that links somewhere (a local file such as the Data Docs)."""

    text: str
    href: str


# A table cell: text, a number, a Link, or None (empty); anything else is shown as str().
Cell = Any


@dataclass(frozen=True)
class Section:
    """A part of the page: a chart (SVG text, or empty), its numbers as a table, and notes.

    ``note`` explains (e.g. "not yet: no previous evaluation"); ``error`` says what failed
    while building the section; ``links`` point to details elsewhere.
    """

    title: str
    svg: str = ""
    table_headers: Sequence[str] = ()
    table_rows: Sequence[Sequence[Cell]] = ()
    note: str = ""
    error: str = ""
    links: Sequence[Link] = field(default_factory=tuple)

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section"


def not_yet(title: str, why: str) -> Section:
    """A section whose data does not exist yet, saying so instead of drawing anything."""
    return Section(title=title, note=f"Not yet: {why}")


def section_or_error(title: str, build: Callable[[], Section]) -> Section:
    """``build()``, or a section carrying the error when it fails: a chart must not fail the page."""
    try:
        return build()
    except Exception as error:
        log.warning("report section %r failed: %s: %s", title, type(error).__name__, error)
        return Section(title=title, error=f"{type(error).__name__}: {error}")


def _format(value: Cell) -> str:
    if isinstance(value, Link):
        return f'<a href="{html.escape(value.href, quote=True)}">{html.escape(value.text)}</a>'
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        return html.escape(str(value))
    if isinstance(value, bool):
        return html.escape(str(value))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4g}"
    return html.escape(str(value))


def _cell(value: Cell) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f"<td>{_format(value)}</td>" if numeric else f'<td class="text">{_format(value)}</td>'


def _table(section: Section) -> str:
    if not section.table_headers and not section.table_rows:
        return ""
    head = "".join(f"<th>{html.escape(header)}</th>" for header in section.table_headers)
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in section.table_rows)
    return f'<table class="numbers"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _section(section: Section) -> str:
    parts = [f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>']
    if section.error:
        parts.append(f'<p class="error">Could not be drawn: {html.escape(section.error)}</p>')
    if section.note:
        parts.append(f'<p class="note">{html.escape(section.note)}</p>')
    chart = f'<div class="chart">{section.svg}</div>' if section.svg else ""
    table = _table(section)
    if chart or table:
        parts.append(f'<div class="body">{chart}<div class="table">{table}</div></div>')
    if section.links:
        parts.append('<p class="links">' + " · ".join(_format(link) for link in section.links) + "</p>")
    parts.append("</section>")
    return "".join(parts)


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 1rem 2rem; color: #1a1a1a; background: #ffffff; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #555; margin-top: 0; }
nav ul { columns: 3; padding-left: 1.2rem; } nav a { color: #0b5394; }
section { border-top: 1px solid #ddd; padding: 0.6rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 0.4rem 0; }
.body { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.chart { flex: 0 1 620px; min-width: 360px; } .chart svg { width: 100%; height: auto; }
.table { flex: 1 1 auto; max-width: 100%; overflow-x: auto; }
table.numbers { border-collapse: collapse; font-size: 0.85rem; }
table.numbers th, table.numbers td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
table.numbers th { background: #f2f2f2; } table.numbers td { white-space: nowrap; }
table.numbers td.text { text-align: left; white-space: normal; min-width: 6rem; }
.note { background: #f4f7fb; border-left: 4px solid #0072B2; padding: 0.4rem 0.7rem; }
.error { background: #fdf0ec; border-left: 4px solid #D55E00; padding: 0.4rem 0.7rem; }
footer { color: #777; font-size: 0.8rem; border-top: 1px solid #ddd; padding-top: 0.5rem; }
"""


def render_page(title: str, subtitle: str, sections: Sequence[Section], *, footer: str = "") -> str:
    """The whole HTML document: title, a contents list, then each section."""
    contents = "".join(
        f'<li><a href="#{section.anchor}">{html.escape(section.title)}</a>'
        + (" (error)" if section.error else "")
        + "</li>"
        for section in sections
    )
    body = "".join(_section(section) for section in sections)
    foot = f"<footer>{html.escape(footer)}</footer>" if footer else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="subtitle">{html.escape(subtitle)}</p>'
        f"<nav><ul>{contents}</ul></nav>{body}{foot}</body></html>\n"
    )


def write_page(path: Path, page: str) -> Path:
    """Write ``page`` to ``path`` whole: a reader never sees a half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)
    return path
