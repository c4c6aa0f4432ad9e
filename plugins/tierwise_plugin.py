"""Airflow plugin: the run report, Data Docs and dbt docs one click away in the UI.

Thin on purpose; the app and the links are in :mod:`tierwise.airflow_views`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tierwise.airflow_views import URL_PREFIX, DocumentsApp, external_views

DOCUMENTS_APP = {"app": DocumentsApp(), "url_prefix": URL_PREFIX, "name": "Tierwise documents"}


class TierwisePlugin(AirflowPlugin):
    name = "tierwise"
    # Airflow's plugin API: class attributes, read once when the plugin loads.
    fastapi_apps = [DOCUMENTS_APP]  # noqa: RUF012
    external_views = external_views()
