"""Fixtures of the publish unit tests: an isolated home, no connections from the host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tierwise.publish.engine import Batch, Record

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


CHANGE_COLUMNS = (
    "change_key",
    "customer_id",
    "as_of_date",
    "from_tier_code",
    "to_tier_code",
    "change_type",
    "reason",
)


@pytest.fixture
def change_batch() -> Batch:
    """Two tier changes of one evaluation, as the notification channels receive them."""
    return Batch(
        CHANGE_COLUMNS,
        [
            Record(
                "C1|2024-01-31",
                "h",
                ("C1|2024-01-31", "C1", "2024-01-31", "silver", "gold", "upgrade", "spend"),
            ),
            Record(
                "C2|2024-01-31",
                "h",
                ("C2|2024-01-31", "C2", "2024-01-31", "gold", "silver", "downgrade", None),
            ),
        ],
    )
