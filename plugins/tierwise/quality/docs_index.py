"""A plain list of the Data Docs pages that works without network access.

GX's own index page builds its list of validation results with JavaScript and
stylesheets fetched from CDNs, so on an offline machine it shows an empty
list. The validation pages themselves are static HTML; this page links to them.
"""

from __future__ import annotations

import html
from pathlib import Path

INDEX_NAME = "tierwise_index.html"


def _entries(site: Path, folder: str) -> list[Path]:
    pages = list((site / folder).rglob("*.html")) if (site / folder).is_dir() else []
    # Validation pages sit under .../<run name>/<run time>/...: newest run time first.
    return sorted(pages, key=lambda page: (page.parent.name, str(page)), reverse=True)


def _links(site: Path, pages: list[Path]) -> str:
    relative = (html.escape(str(page.relative_to(site))) for page in pages)
    items = (f'<li><a href="{path}">{path}</a></li>' for path in relative)
    return "<ul>\n" + "\n".join(items) + "\n</ul>"


def write_offline_index(site: Path, limit: int = 200) -> Path:
    """Write ``tierwise_index.html`` next to GX's index and return its path."""
    validations = _entries(site, "validations")[:limit]
    suites = _entries(site, "expectations")
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Tierwise Data Docs</title></head><body>"
        "<h1>Tierwise quality gates: Data Docs</h1>"
        "<p>GX's own index: <a href='index.html'>index.html</a> (needs network for its list).</p>"
        f"<h2>Validation results, newest first ({len(validations)})</h2>{_links(site, validations)}"
        f"<h2>Expectation suites ({len(suites)})</h2>{_links(site, suites)}"
        "</body></html>"
    )
    target = site / INDEX_NAME
    target.write_text(body, encoding="utf-8")
    return target
