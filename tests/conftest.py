"""Test-wide isolation: Airflow and Tierwise never touch the developer's real homes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import isolate_tierwise

REPO = Path(__file__).resolve().parents[1]
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tierwise-tests-"))

# Set before anything imports Airflow: its configuration is read once at import.
os.environ.setdefault("AIRFLOW_HOME", str(_SESSION_HOME / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("TIERWISE_TASK_RETRIES", "0")


@pytest.fixture
def tierwise_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every Tierwise path (warehouse, data, publish, logs, local Airflow) into a temp folder."""
    isolate_tierwise(tmp_path, monkeypatch)
    return tmp_path


@pytest.fixture(autouse=True, scope="module")
def _forget_registered_secrets() -> Iterator[None]:
    """A value a test module registers as a secret is masked in its own output, not in later modules'."""
    from tierwise import masking

    before = set(masking._secrets)
    yield
    with masking._lock:
        masking._secrets.intersection_update(before)


@pytest.fixture(scope="session")
def two_evaluations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template home of tests/workspaces.py (evaluated as of 2025-11-30 and 2025-12-31),
    built the first time a module asks; copy it with ``copy_home``, never change it."""
    from tests.workspaces import build_two_evaluations

    return build_two_evaluations(tmp_path_factory.mktemp("two_evaluations"))
