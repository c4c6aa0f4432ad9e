"""The Airflow plugin's document links: served read-only from the workspace's folders."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tierwise.airflow_views import URL_PREFIX, DocumentsApp, external_views, run_report_name, served_folders
from tierwise.context import workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tierwise_env: Path) -> TestClient:
    # The plugin's app: built on the first request, as the api-server serves it.
    return TestClient(DocumentsApp())


def test_every_view_points_into_the_served_app() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    views = [ExternalViewResponse(**view) for view in external_views()]
    assert {view.name for view in views if view.destination == "nav"} == {
        "Run report",
        "All run reports",
        "Data Docs",
        "dbt docs",
    }
    assert [view.href for view in views if view.destination == "dag_run"] == [
        f"{URL_PREFIX}/run/{{DAG_ID}}/{{RUN_ID}}"
    ]
    kinds = set(served_folders(workspace()))
    assert all(view.href.startswith(f"{URL_PREFIX}/") for view in views)
    assert {view.href.removeprefix(f"{URL_PREFIX}/").split("/")[0] for view in views} <= kinds | {"run"}
    assert len({view.url_route for view in views}) == len(views)


def test_the_plugin_file_registers_the_app_and_the_views() -> None:
    from airflow.plugins_manager import AirflowPlugin

    spec = importlib.util.spec_from_file_location("tierwise_plugin", REPO / "plugins" / "tierwise_plugin.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.TierwisePlugin
    assert issubclass(plugin, AirflowPlugin)
    assert [app["url_prefix"] for app in plugin.fastapi_apps] == [URL_PREFIX]
    assert plugin.fastapi_apps[0]["app"]._app is None, "no FastAPI routes built where a task imports plugins"
    assert plugin.external_views == external_views()


def test_the_latest_report_and_a_runs_report_are_served(client: TestClient) -> None:
    reports = served_folders(workspace())["reports"]
    reports.mkdir(parents=True)
    (reports / "latest.html").write_text("<h1>latest</h1>", encoding="utf-8")
    (reports / "run-2025-12-31.html").write_text("<h1>december</h1>", encoding="utf-8")

    assert client.get("/reports/latest.html").text == "<h1>latest</h1>"
    assert client.get("/reports/run-2025-12-31.html").text == "<h1>december</h1>"
    listing = client.get("/reports/")
    assert listing.status_code == 200
    assert 'href="run-2025-12-31.html"' in listing.text


def test_dbt_docs_folder_serves_its_index(client: TestClient) -> None:
    docs = served_folders(workspace())["dbt-docs"]
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("dbt docs", encoding="utf-8")
    assert client.get("/dbt-docs/index.html").text == "dbt docs"
    assert client.get("/dbt-docs/").text == "dbt docs"


def test_nothing_outside_the_folders_and_nothing_but_reads(client: TestClient, tierwise_env: Path) -> None:
    reports = served_folders(workspace())["reports"]
    reports.mkdir(parents=True)
    (tierwise_env / "secret.txt").write_text("outside", encoding="utf-8")
    assert client.get("/reports/..%2F..%2Fsecret.txt").status_code == 404
    assert client.get("/reports/../../secret.txt").status_code == 404
    assert client.get("/elsewhere/secret.txt").status_code == 404
    assert client.post("/reports/latest.html").status_code == 405


def test_a_missing_document_says_what_writes_it(client: TestClient) -> None:
    response = client.get("/dbt-docs/index.html")
    assert response.status_code == 404
    assert "tierwise docs" in response.json()["detail"]


def test_a_runs_report_is_the_evaluation_its_tasks_made() -> None:
    review = datetime(2026, 1, 5, 6, tzinfo=UTC)
    assert run_report_name({}, review, review) == "run-2025-12-31.html"
    assert run_report_name({"as_of_date": "2025-07-31"}, review, review) == "run-2025-07-31.html"
    # An asset-triggered run has no logical date: the month before it ran.
    assert run_report_name(None, None, datetime(2025, 9, 2, tzinfo=UTC)) == "run-2025-08-31.html"
