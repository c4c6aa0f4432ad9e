"""An index of the Data Docs pages that works without network access, with each validation's verdict.

GX's own index page builds its list of validation results with JavaScript and
stylesheets fetched from CDNs, so on an offline machine it shows an empty
list. The validation pages themselves are static HTML; this page links to them,
and says for each what ``ops.quality_results`` recorded (pass, warn or fail, when,
how many checks and rows), so nobody has to open every page to find the red one.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from tierwise.engine import table_exists

INDEX_NAME = "tierwise_index.html"
_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
    ".pass{background:#d9f2d9}.warn{background:#fff1c2}.fail{background:#f8d0d0}.unknown{color:#777}"
)


@dataclass(frozen=True)
class Validation:
    """What ``ops.quality_results`` holds for one suite in one gate run."""

    suite: str
    run_id: str
    validated_at: datetime
    checks: int
    passed: int
    warned: int
    failed: int
    errors: int
    rows: int | None

    @property
    def status(self) -> str:
        """fail when a critical check failed or could not run, warn when a warning check failed."""
        if self.failed or self.errors:
            return "fail"
        return "warn" if self.warned else "pass"


Statuses = Mapping[tuple[str, str], Validation]


def validation_statuses(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], Validation]:
    """Every (suite, run id) of ``ops.quality_results`` with its counts."""
    if not table_exists(con, "ops", "quality_results"):
        return {}
    rows = con.execute(
        """
        select suite, run_id, max(validated_at), count(*), count(*) filter (outcome = 'passed'),
            count(*) filter (outcome = 'warned'), count(*) filter (outcome = 'failed'),
            count(*) filter (outcome = 'error'), max(element_count)
        from ops.quality_results
        group by suite, run_id
        """
    ).fetchall()
    return {(str(row[0]), str(row[1])): Validation(str(row[0]), str(row[1]), *row[2:]) for row in rows}


def _entries(site: Path, folder: str) -> list[Path]:
    pages = list((site / folder).rglob("*.html")) if (site / folder).is_dir() else []
    # Validation pages sit under .../<run name>/<run time>/...: newest run time first.
    return sorted(pages, key=lambda page: (page.parent.name, str(page)), reverse=True)


def page_key(site: Path, page: Path) -> tuple[str, str]:
    """(suite, run name) of a validation page: validations/<suite>/<run name>/<run time>/<batch>.html."""
    parts = page.relative_to(site).parts
    return ".".join(parts[1:-3]), parts[-3] if len(parts) >= 5 else ""


def _links(site: Path, pages: list[Path]) -> str:
    relative = (html.escape(str(page.relative_to(site))) for page in pages)
    items = (f'<li><a href="{path}">{path}</a></li>' for path in relative)
    return "<ul>\n" + "\n".join(items) + "\n</ul>"


def _validation_row(site: Path, page: Path, found: Validation | None) -> str:
    link = html.escape(str(page.relative_to(site)))
    suite, run = (html.escape(part) for part in page_key(site, page))
    if found is None:
        cells = ["unknown", "", "", "", ""]
    else:
        counts = f"{found.passed} passed, {found.warned} warned, {found.failed} failed, {found.errors} errors"
        rows = "" if found.rows is None else f"{found.rows:,}"
        cells = [found.status, f"{found.validated_at:%Y-%m-%d %H:%M:%S} UTC", counts, str(found.checks), rows]
    status, when, counts, checks, rows = cells
    return (
        f'<tr class="{status}"><td>{status}</td><td>{when}</td><td>{suite}</td><td>{run}</td>'
        f"<td>{checks}</td><td>{counts}</td><td>{rows}</td>"
        f'<td><a href="{link}">{link}</a></td></tr>'
    )


def _validations_table(site: Path, pages: list[Path], statuses: Statuses) -> str:
    head = (
        "<tr><th>status</th><th>validated at</th><th>suite</th><th>run</th><th>checks</th>"
        "<th>outcomes</th><th>rows</th><th>page</th></tr>"
    )
    body = "\n".join(_validation_row(site, page, statuses.get(page_key(site, page))) for page in pages)
    return f"<table>\n{head}\n{body}\n</table>"


def write_offline_index(site: Path, limit: int = 200, statuses: Statuses | None = None) -> Path:
    """Write ``tierwise_index.html`` next to GX's index and return its path.

    ``statuses`` (from :func:`validation_statuses`) gives each validation page its verdict; a
    page whose run is not in it shows status unknown.
    """
    validations = _entries(site, "validations")[:limit]
    suites = _entries(site, "expectations")
    found = [statuses.get(page_key(site, page)) for page in validations] if statuses else []
    verdicts = [item.status for item in found if item]
    tally = {kind: verdicts.count(kind) for kind in ("pass", "warn", "fail")}
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Tierwise Data Docs</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Tierwise quality gates: Data Docs</h1>"
        "<p>GX's own index: <a href='index.html'>index.html</a> (needs network for its list).</p>"
        f"<h2>Validation results, newest first ({len(validations)})</h2>"
        f"<p>{tally['pass']} pass, {tally['warn']} warn, {tally['fail']} fail "
        "(from ops.quality_results)</p>"
        f"{_validations_table(site, validations, statuses or {})}"
        f"<h2>Expectation suites ({len(suites)})</h2>{_links(site, suites)}"
        "</body></html>"
    )
    target = site / INDEX_NAME
    target.write_text(body, encoding="utf-8")
    return target
