"""Where a benchmark run keeps its data, warehouses and logs, and the environment of its stages.

Everything lives under ``<out_dir>/work``, away from the developer's warehouse and from the
repository's dbt and GX folders: the bench runs on copies of ``dbt_project/`` and
``expectations/`` so that its dbt artifacts (``run_results.json`` has the per-model timings)
and GX results are its own even while someone else builds in the same tree.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from tierwise.context import workspace as current_settings
from tierwise.schema import ENTITIES

SEED = 42
START = date(2024, 1, 1)
# Quick mode keeps one quarter of history: the per-file cost of 731 daily files would
# otherwise dominate a tiny CI size.
QUICK_START = date(2025, 10, 1)
LAST_DAY = date(2025, 12, 31)
"""The full run sees exports up to this day and evaluates as of it (a month end)."""
NEXT_DAY = LAST_DAY + timedelta(days=1)
"""The day the incremental run adds."""
NEXT_MONTH_END = date(2026, 1, 31)
"""The evaluation after the full run's: one month later."""


@dataclass(frozen=True)
class Workspace:
    """The folders of one benchmark run (``root``) and of one size in it (``size_root``)."""

    root: Path
    orders: int

    @property
    def size_root(self) -> Path:
        # Size 0 is the run's own setup (Airflow's metadata database), not a data size.
        return self.root / (f"orders-{self.orders}" if self.orders else "setup")

    @property
    def data_dir(self) -> Path:
        return self.size_root / "data"

    @property
    def next_day_dir(self) -> Path:
        return self.size_root / "next-day"

    @property
    def outputs(self) -> Path:
        return self.size_root / "outputs"

    @property
    def logs(self) -> Path:
        return self.size_root / "logs"

    @property
    def dbt_project_dir(self) -> Path:
        return self.root / "project" / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return self.root / "project" / "expectations"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    def run_dir(self, run: str) -> Path:
        """Warehouse, published files and logs of one pipeline run (``stages``, ``airflow`` or ``spark``).

        On Spark the warehouse is the ledger (:mod:`tierwise.engine.spark`)."""
        return self.size_root / "runs" / run

    def stage_env(self, run: str, postgres_url: str | None) -> dict[str, str]:
        """The environment of a stage process of ``run``."""
        env = dict(os.environ)
        run_dir = self.run_dir(run)
        env.update(
            {
                "TIERWISE_WAREHOUSE": str(run_dir / "warehouse" / "tierwise.duckdb"),
                "TIERWISE_DATA_DIR": str(self.data_dir),
                "TIERWISE_PUBLISH_DIR": str(run_dir / "publish"),
                "TIERWISE_LOG_DIR": str(run_dir / "logs"),
                "TIERWISE_DBT_PROJECT_DIR": str(self.dbt_project_dir),
                "TIERWISE_EXPECTATIONS_DIR": str(self.expectations_dir),
                "TIERWISE_AIRFLOW_HOME": str(self.airflow_home),
                "TIERWISE_TASK_RETRIES": "0",
                # DuckDB unless the Spark run says otherwise (it names its own server).
                "TIERWISE_ENGINE": "duckdb",
            }
        )
        for name in ("REMOTE", "MASTER", "PORT", "DIR"):
            env.pop(f"TIERWISE_SPARK_{name}", None)
        env.pop("AIRFLOW_CONN_TIERWISE_POSTGRES", None)
        if postgres_url:
            env["AIRFLOW_CONN_TIERWISE_POSTGRES"] = postgres_url
        # The other publish targets are not part of the benchmark.
        for name in ("CRM", "WEBHOOK", "SMTP", "ALERTS"):
            env.pop(f"AIRFLOW_CONN_TIERWISE_{name}", None)
        return env

    def spark_dir(self, run: str) -> Path:
        """The local Spark server's tables, metastore, logs and pid file for ``run``."""
        return self.run_dir(run) / "spark"

    def warehouse(self, run: str) -> Path:
        return self.run_dir(run) / "warehouse" / "tierwise.duckdb"

    def fresh_run(self, run: str) -> None:
        """An empty warehouse, publish and log folder for ``run``."""
        shutil.rmtree(self.run_dir(run), ignore_errors=True)
        for folder in ("warehouse", "publish", "logs"):
            (self.run_dir(run) / folder).mkdir(parents=True)


def copy_projects(workspace: Workspace) -> None:
    """Fresh copies of the dbt and GX projects, without anything an earlier run left."""
    settings = current_settings()
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages", "uncommitted", "__pycache__")
    for source, target in (
        (settings.dbt_project_dir, workspace.dbt_project_dir),
        (settings.expectations_dir, workspace.expectations_dir),
    ):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, ignore=ignore)


def day_files(folder: Path, day: date) -> list[Path]:
    return [folder / entity / f"{entity}_{day.isoformat()}.csv" for entity in ENTITIES]


def hold_back_next_day(workspace: Workspace) -> None:
    """Move the generated files of NEXT_DAY out of the data folder: the full run must not see them."""
    for source in day_files(workspace.data_dir, NEXT_DAY):
        target = workspace.next_day_dir / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.exists():
            source.replace(target)


def add_next_day(workspace: Workspace) -> None:
    """What the export system delivers the day after: copy NEXT_DAY's files into the data folder."""
    for source in day_files(workspace.next_day_dir, NEXT_DAY):
        shutil.copy2(source, workspace.data_dir / source.parent.name / source.name)


def remove_next_day(workspace: Workspace) -> None:
    """Leave the data folder as generated-minus-one-day, so the next bench run can reuse it."""
    for path in day_files(workspace.data_dir, NEXT_DAY):
        path.unlink(missing_ok=True)
