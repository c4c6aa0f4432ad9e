"""Helpers shared by tests: a throw-away Tierwise home for Airflow runs, the real data sets."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tierwise.context import RunContext
    from tierwise.engine.duckdb import DuckDBEngine
    from tierwise.settings import Settings


# Connections, the publish config and the engine a developer may have exported: a test sees
# only its own.
CONNECTION_VARS = (
    "AIRFLOW_CONN_TIERWISE_POSTGRES",
    "AIRFLOW_CONN_TIERWISE_CRM",
    "AIRFLOW_CONN_TIERWISE_WEBHOOK",
    "AIRFLOW_CONN_TIERWISE_SMTP",
    "AIRFLOW_CONN_TIERWISE_SPARK",
    "TIERWISE_PUBLISH_CONFIG",
    "TIERWISE_ENGINE",
    "TIERWISE_SPARK_REMOTE",
)


def isolate_tierwise(
    root: Path, patch: pytest.MonkeyPatch | None = None, *, home: bool = False
) -> pytest.MonkeyPatch:
    """Point every path Tierwise writes (and its local Airflow) below ``root``; hide the host's connections.

    The checkout stays Tierwise's home (its DAGs, dbt project, GX project, source configs) unless
    ``home``: then ``root`` is home as well, so no ``config/publish.yml`` of the checkout is read.
    Give the ``monkeypatch`` fixture as ``patch`` in a test; a module-scoped fixture passes none and
    undoes the returned patch when done.
    """
    patch = patch or pytest.MonkeyPatch()
    for name in CONNECTION_VARS:
        patch.delenv(name, raising=False)
    if home:
        patch.setenv("TIERWISE_HOME", str(root))
    for name, sub in {
        "TIERWISE_WAREHOUSE": "warehouse/tierwise.duckdb",
        "TIERWISE_DATA_DIR": "data",
        "TIERWISE_PUBLISH_DIR": "publish",
        "TIERWISE_LOG_DIR": "logs",
        "TIERWISE_AIRFLOW_HOME": "airflow",
    }.items():
        patch.setenv(name, str(root / sub))
    return patch


def settings(warehouse: Path | None = None, **changes: Any) -> Settings:
    """The settings the environment gives now, with the warehouse and any other field changed."""
    from tierwise.settings import load_settings

    current = load_settings()
    if warehouse is not None:
        changes["warehouse"] = Path(warehouse)
    return replace(current, **changes)


def engine_at(warehouse: Path | None = None, **changes: Any) -> DuckDBEngine:
    """The DuckDB engine on ``warehouse`` (default: the environment's), as a run context makes it."""
    from tierwise.engine.duckdb import DuckDBEngine

    return DuckDBEngine(settings(warehouse, **changes))


def run_context(run_id: str = "test", *, warehouse: Path | None = None, **options: Any) -> RunContext:
    """A run context on the environment's settings (the isolated test home), or on ``warehouse``."""
    from tierwise.context import RunContext

    return RunContext.create(run_id, settings=settings(warehouse), **options)


def shared_data(name: str) -> Path:
    """A real data set of ``../shared/data`` (never copied into the repo).

    $TIERWISE_SHARED_DATA first (a git worktree is not beside the shared folder), then next to
    the checkout, then /work/shared/data, where a clone elsewhere on the same machine (CI) finds
    it. Tests using it skip with a message where none exists.
    """
    repo = Path(__file__).resolve().parents[1]
    roots = [Path(os.environ["TIERWISE_SHARED_DATA"])] if os.environ.get("TIERWISE_SHARED_DATA") else []
    for root in [*roots, repo.parent / "shared" / "data", Path("/work/shared/data")]:
        if (root / name).is_dir():
            return root / name
    return repo.parent / "shared" / "data" / name


def airflow_dags_test(dag_id: str, logical_date: datetime, log_file: Path) -> int:
    """``airflow dags test`` one DAG as the demo runs it (no retries); returns the exit code."""
    from tierwise.airflow_local import airflow_env, run_airflow

    env = airflow_env({"TIERWISE_TASK_RETRIES": "0"})
    return run_airflow("dags", "test", dag_id, logical_date.isoformat(), log_file=log_file, env=env)


def files_text(folder: Path) -> dict[str, str]:
    """Every file below ``folder``, path -> text (undecodable bytes replaced)."""
    return {
        str(path): path.read_bytes().decode("utf-8", errors="replace")
        for path in folder.rglob("*")
        if path.is_file()
    }


def personal_values(warehouse: Path) -> set[str]:
    """The e-mails and phones of ``raw.contacts`` in a DuckDB warehouse (or ledger)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select email from raw.contacts union select phone from raw.contacts").fetchall()
    # Short values ("0", "n/a") would match anywhere and identify no one.
    return {value for (value,) in rows if value and len(value) >= 6}


def leaks(values: set[str], surfaces: dict[str, str]) -> list[str]:
    """Each of ``values`` found in a surface (name -> text), as is, HTML-escaped or JSON-escaped."""
    import html
    import json

    return sorted(
        f"{value!r} in {name}"
        for name, text in surfaces.items()
        for value in values
        if value in text or html.escape(value) in text or json.dumps(value)[1:-1] in text
    )
