"""Links from the Airflow UI to what a run leaves as files: the run report, Data Docs, dbt docs.

They are local files, which a browser will not open from an http page, so a small FastAPI app
(an Airflow 3 plugin's ``fastapi_apps`` entry, served by the api-server) serves their folders
read-only under :data:`URL_PREFIX`, and the plugin's ``external_views`` put them in the UI's
navigation. The folders are read from the settings on each request, not at import: the
api-server starts before any run has written them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierwise.quality.docs_index import INDEX_NAME
from tierwise.quality.project import DATA_DOCS_SITE, GX_DIR

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tierwise.settings import Settings

URL_PREFIX = "/tierwise"
CATEGORY = "Tierwise"


def served_folders(settings: Settings) -> dict[str, Path]:
    """URL part -> the folder served there."""
    return {
        "reports": settings.publish_dir / "reports",
        "dbt-docs": settings.publish_dir / "docs" / "dbt",
        "data-docs": settings.expectations_dir / GX_DIR / "uncommitted" / "data_docs" / DATA_DOCS_SITE,
    }


# name, file below a served folder, the UI route it opens in
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("Run report", "reports/latest.html", "tierwise-report"),
    ("All run reports", "reports/", "tierwise-reports"),
    ("Data Docs", f"data-docs/{INDEX_NAME}", "tierwise-data-docs"),
    ("dbt docs", "dbt-docs/index.html", "tierwise-dbt-docs"),
)


def external_views() -> list[dict[str, Any]]:
    """The plugin's ``external_views``: the documents in the Tierwise menu, and on each run of a
    DAG the report of the evaluation it made (the UI fills in ``{DAG_ID}`` and ``{RUN_ID}``)."""
    menu = [
        {"name": name, "href": f"{URL_PREFIX}/{path}", "url_route": route, "category": CATEGORY}
        for name, path, route in VIEWS
    ]
    run = {
        "name": "Tierwise run report",
        "href": f"{URL_PREFIX}/run/{{DAG_ID}}/{{RUN_ID}}",
        "url_route": "tierwise-run-report",
        "destination": "dag_run",
    }
    return [*menu, run]


def run_report_name(
    conf: Mapping[str, Any] | None, logical_date: datetime | None, run_after: datetime
) -> str:
    """The report file of a DAG run: its evaluation date, chosen as a task chooses it."""
    from tierwise.pipeline import evaluation_date_for

    chosen = (conf or {}).get("as_of_date")
    as_of = date.fromisoformat(chosen) if chosen else evaluation_date_for(logical_date or run_after)
    return f"run-{as_of.isoformat()}.html"


def _run_report_of(dag_id: str, run_id: str) -> str | None:
    """The report file of a run in Airflow's metadata (the app runs inside the api-server)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id).one_or_none()
        if run is None:
            return None
        return run_report_name(run.conf, run.logical_date, run.run_after)


def _listing(title: str, folder: Path) -> str:
    """An HTML list of the HTML files of ``folder``, newest first."""
    pages = sorted(folder.glob("*.html"), key=lambda path: path.stat().st_mtime, reverse=True)
    items = "".join(
        f'<li><a href="{html.escape(page.name)}">{html.escape(page.name)}</a></li>' for page in pages
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><ul>{items or '<li>none yet: run the pipeline</li>'}</ul>"
    )


def create_app() -> FastAPI:
    """The read-only app serving the documents' folders (GET only, nothing outside them)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

    from tierwise.context import workspace

    app = FastAPI(title="Tierwise documents", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/run/{dag_id}/{run_id}", response_model=None)
    def run_report(dag_id: str, run_id: str) -> Response:
        name = _run_report_of(dag_id, run_id)
        if name is None:
            raise HTTPException(status_code=404, detail=f"no run {run_id} of {dag_id}")
        return RedirectResponse(f"{URL_PREFIX}/reports/{name}")

    @app.get("/{kind}/{path:path}", response_model=None)
    def document(kind: str, path: str) -> Response:
        folder = served_folders(workspace()).get(kind)
        if folder is None:
            raise HTTPException(status_code=404, detail=f"no document kind {kind!r}")
        root = folder.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise HTTPException(status_code=404, detail="outside the served folder")
        if target.is_dir():
            if (target / "index.html").is_file():
                return FileResponse(target / "index.html")
            return HTMLResponse(_listing(f"Tierwise {kind}", target))
        if not target.is_file():
            hint = "tierwise docs" if kind == "dbt-docs" else "a run of the pipeline"
            raise HTTPException(status_code=404, detail=f"{kind}/{path} is not there yet; {hint} writes it")
        return FileResponse(target)

    return app


class DocumentsApp:
    """The ASGI app of :func:`create_app`, built on its first request.

    Airflow imports plugins in every process that runs a task, where the app is never served;
    building its FastAPI routes there cost about a second per task.
    """

    def __init__(self) -> None:
        self._app: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)
