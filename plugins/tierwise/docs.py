"""``tierwise docs``: the project's documentation where people can open it, in one command.

dbt writes its docs site into the project's ``target/`` folder, which every build rewrites and
nobody outside the project knows about; GX's own Data Docs index is empty offline. This puts
the dbt site in a stable folder of the publish directory (``<publish_dir>/docs/dbt/``), with a
single-file variant that opens from ``file://`` (dbt's ``index.html`` fetches its JSON files,
which browsers refuse from disk), and rewrites the offline Data Docs index with each
validation's verdict from ``ops.quality_results``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tierwise.context import RunContext
from tierwise.quality.docs_index import validation_statuses, write_offline_index
from tierwise.transform import run_dbt

# What dbt docs generate writes that the site needs; static_index.html has the JSON inside.
DBT_SITE_FILES = ("index.html", "manifest.json", "catalog.json", "static_index.html")


@dataclass(frozen=True)
class DocsPaths:
    dbt_site: Path
    """``index.html`` with its JSON files: serve the folder over HTTP."""
    dbt_single_file: Path
    """The whole site in one file: opens from disk."""
    data_docs: Path | None
    """The offline Data Docs index; None before any quality gate ran."""
    elapsed: float


def dbt_docs_dir(ctx: RunContext) -> Path:
    return ctx.settings.publish_dir / "docs" / "dbt"


def generate_dbt_docs(ctx: RunContext) -> tuple[Path, float]:
    """Run ``dbt docs generate --static`` and copy the site to the stable folder; (folder, seconds)."""
    report = run_dbt(ctx, "docs generate", extra=["--static"])
    target, folder = ctx.settings.dbt_project_dir / "target", dbt_docs_dir(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    for name in DBT_SITE_FILES:
        shutil.copy2(target / name, folder / name)
    return folder, report.elapsed


def data_docs_site(ctx: RunContext) -> Path | None:
    """GX's Data Docs folder, once a gate has rendered it."""
    from tierwise.quality.runner import DATA_DOCS_INDEX

    index = ctx.settings.expectations_dir / DATA_DOCS_INDEX
    return index.parent if index.is_file() else None


def refresh_data_docs_index(ctx: RunContext) -> Path | None:
    """Rewrite the offline Data Docs index with each validation's status; None without Data Docs."""
    site = data_docs_site(ctx)
    if site is None:
        return None
    statuses = {}
    if ctx.engine.exists():
        with ctx.engine.connect(read_only=True) as con:
            statuses = validation_statuses(con)
    return write_offline_index(site, statuses=statuses)


def build_docs(ctx: RunContext) -> DocsPaths:
    """dbt's site in the stable folder, and the Data Docs index refreshed."""
    folder, elapsed = generate_dbt_docs(ctx)
    data_docs = refresh_data_docs_index(ctx)
    return DocsPaths(folder / "index.html", folder / "static_index.html", data_docs, elapsed)
