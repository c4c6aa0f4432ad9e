"""A local Airflow for the demo and the tests: SQLite metadata inside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tierwise.context import workspace
from tierwise.exceptions import TierwiseError
from tierwise.orchestration import WRITER_POOL


def airflow_home() -> Path:
    settings = workspace()
    return Path(os.environ.get("TIERWISE_AIRFLOW_HOME", settings.home / ".airflow")).resolve()


def airflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an Airflow subprocess bound to this repository."""
    settings = workspace()
    home = airflow_home()
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.home / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.log_dir / "airflow"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "TIERWISE_HOME": str(settings.home),
            "TIERWISE_WAREHOUSE": str(settings.warehouse),
            "TIERWISE_DATA_DIR": str(settings.data_dir),
            "TIERWISE_PUBLISH_DIR": str(settings.publish_dir),
            "TIERWISE_LOG_DIR": str(settings.log_dir),
        }
    )
    env.update(extra or {})
    return env


def airflow_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "airflow"), *args]


def run_airflow(*args: str, log_file: Path, env: dict[str, str] | None = None) -> int:
    """Run an Airflow CLI command with its output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ airflow {' '.join(args)}\n")
        handle.flush()
        completed = subprocess.run(
            airflow_command(*args),
            env=env or airflow_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return completed.returncode


def setup_airflow(log_file: Path) -> None:
    """Migrate the metadata database and create the single-writer pool (idempotent)."""
    import airflow

    home = airflow_home()
    marker = home / f".tierwise-setup-{airflow.__version__}"
    if marker.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    if run_airflow("db", "migrate", log_file=log_file) != 0:
        raise TierwiseError(f"airflow db migrate failed, see {log_file}")
    if run_airflow("pools", "set", WRITER_POOL, "1", "DuckDB has a single writer", log_file=log_file) != 0:
        raise TierwiseError(f"creating the {WRITER_POOL} pool failed, see {log_file}")
    marker.write_text("ok\n", encoding="utf-8")
