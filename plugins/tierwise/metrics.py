"""``tierwise metrics``: MetricFlow's CLI (``mf``) on the workspace's dbt project and warehouse.

The semantic layer (docs/semantic-layer.md) lives in the dbt project; ``mf`` finds the project
and its profile through ``DBT_PROJECT_DIR`` and ``DBT_PROFILES_DIR``, and the profile reads its
target from the environment the run context gives (as ``tierwise dbt`` does). Queries run
offline: dbt's usage statistics are off unless the user turned them on, and the package-index
lookup ``mf`` makes at every start to announce a newer release is skipped.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tierwise.exceptions import ConfigError
from tierwise.settings import EngineName
from tierwise.transform import dbt_env

if TYPE_CHECKING:
    from tierwise.context import RunContext

# mf's group callback asks the package index for a newer release on every command (one HTTP
# request, cached an hour in the temp dir); a query must not wait on, or leak to, the network.
_LAUNCHER = (
    "import update_checker; update_checker.UpdateChecker.check = lambda *args, **kwargs: None; "
    "from dbt_metricflow.cli.main import cli; cli()"
)


@dataclass(frozen=True)
class MetricFlowCommand:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def metricflow_command(ctx: RunContext, args: Sequence[str]) -> MetricFlowCommand:
    """The ``mf`` process for ``args`` on the workspace: its command line, environment and folder."""
    if ctx.settings.engine is not EngineName.DUCKDB:
        raise ConfigError(
            "the semantic layer queries the DuckDB warehouse (TIERWISE_ENGINE=duckdb); with Spark, "
            "query the marts the build fetched into the ledger, or the BI snapshot"
        )
    given = [arg for arg in args if arg != "--"] or ["--help"]
    env = dbt_env(ctx, ctx.as_of_date)
    env["DBT_PROJECT_DIR"] = str(ctx.settings.dbt_project_dir)
    env["DBT_PROFILES_DIR"] = str(ctx.settings.dbt_profiles_dir)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return MetricFlowCommand([sys.executable, "-c", _LAUNCHER, *given], env, ctx.settings.dbt_project_dir)


def metrics_passthrough(ctx: RunContext, args: Sequence[str]) -> int:
    """Run ``mf`` with the given arguments on the workspace; its exit code.

    It holds the warehouse's lock while it runs (dbt-duckdb opens the file for writing), so a
    query waits for a build rather than failing on it.
    """
    command = metricflow_command(ctx, args)
    return ctx.engine.exclusive(
        lambda: subprocess.run(command.argv, env=command.env, cwd=command.cwd, check=False).returncode
    )
