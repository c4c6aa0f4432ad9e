"""Fixtures of the publish unit tests: an isolated home, no connections from the host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from tests.support import isolate_tierwise


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_tierwise(tmp_path, monkeypatch, home=True)
    return tmp_path


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("set enable_progress_bar = false")
    yield connection
    connection.close()
