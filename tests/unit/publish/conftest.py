"""Fixtures of the publish unit tests: an isolated home, no connections from the host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

CONNECTION_VARS = (
    "AIRFLOW_CONN_TIERWISE_POSTGRES",
    "AIRFLOW_CONN_TIERWISE_CRM",
    "AIRFLOW_CONN_TIERWISE_WEBHOOK",
    "AIRFLOW_CONN_TIERWISE_SMTP",
    "TIERWISE_PUBLISH_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in CONNECTION_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIERWISE_HOME", str(tmp_path))
    monkeypatch.setenv("TIERWISE_PUBLISH_DIR", str(tmp_path / "publish"))
    yield tmp_path


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("set enable_progress_bar = false")
    yield connection
    connection.close()
