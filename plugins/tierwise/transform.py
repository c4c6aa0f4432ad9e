"""The transform stage: ``dbt build`` of the project, in-process.

dbt runs through its programmatic entry point (``dbtRunner``) so a task pays
for one dbt start, not one per model; its console output goes to
``logs/dbt/dbt.log`` and this module reports one line per build.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierwise.exceptions import BuildError, ConfigError
from tierwise.settings import get_settings
from tierwise.warehouse import is_lock_conflict, probe, wait_for_lock

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

FAILED_STATUSES = {"error", "fail", "runtime error"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    message: str
    failures: int | None
    seconds: float = 0.0

    def log_line(self) -> str:
        failures = f", {self.failures} failing rows" if self.failures else ""
        return f"{self.status:<7} {self.seconds:6.2f}s  {self.unique_id}{failures}"


@dataclass(frozen=True)
class BuildReport:
    command: str
    success: bool
    elapsed: float
    nodes: tuple[NodeResult, ...] = field(default_factory=tuple)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(f"{n.unique_id.split('.')[0]}:{n.status}" for n in self.nodes))

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in FAILED_STATUSES]

    def summary_line(self) -> str:
        kinds = Counter(n.unique_id.split(".")[0] for n in self.nodes)
        passed = sum(1 for n in self.nodes if n.status in {"success", "pass"})
        parts = ", ".join(f"{count} {kind}s" for kind, count in sorted(kinds.items()))
        state = "ok" if self.success else f"FAILED ({len(self.failed)} failing)"
        return f"dbt {self.command}: {state}; {parts}; {passed} passed in {self.elapsed:.1f}s"


AS_OF_ENV = "TIERWISE_AS_OF_DATE"
# Read by dbt's on-run-start (macro tierwise_forget_build_state) for the row it writes.
RUN_ID_ENV = "TIERWISE_RUN_ID"


def dbt_args(
    command: str, *, full_refresh: bool, select: Sequence[str], dbt_vars: Mapping[str, Any] | None = None
) -> list[str]:
    settings = get_settings()
    log_path = settings.log_dir / "dbt"
    args = [
        "--log-level",
        "none",
        "--log-level-file",
        "info",
        "--log-path",
        str(log_path),
        command,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
        "--target-path",
        str(settings.dbt_project_dir / "target"),
    ]
    if command == "build" and not settings.dbt_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if full_refresh and command in {"build", "run", "seed"}:
        args.append("--full-refresh")
    for selector in select:
        args += ["--select", selector]
    if dbt_vars:
        # JSON is YAML, dbt's --vars syntax; a changed value makes dbt re-parse what reads it.
        args += ["--vars", json.dumps(dict(dbt_vars), sort_keys=True, default=str)]
    return args


def set_as_of_date(as_of_date: date | None) -> None:
    """Hand the evaluation date to dbt (macro tierwise_as_of_date) through the environment.

    Passing it as --vars would make dbt re-parse the whole project whenever the date
    changes (every run of a daily DAG); a changed env var re-parses only the model reading it.
    """
    if as_of_date is None:
        os.environ.pop(AS_OF_ENV, None)
    else:
        os.environ[AS_OF_ENV] = as_of_date.isoformat()


def _node_results(result: object) -> tuple[NodeResult, ...]:
    nodes = []
    for item in getattr(result, "results", None) or []:
        node = getattr(item, "node", None)
        nodes.append(
            NodeResult(
                unique_id=getattr(node, "unique_id", "unknown"),
                status=str(getattr(item.status, "value", item.status)),
                message=str(getattr(item, "message", "") or ""),
                failures=getattr(item, "failures", None),
                seconds=float(getattr(item, "execution_time", 0.0) or 0.0),
            )
        )
    return tuple(nodes)


def _log_nodes(report: BuildReport) -> None:
    """Per-model visibility in the task log: every node's status and time, slowest first."""
    for node in sorted(report.nodes, key=lambda n: n.seconds, reverse=True):
        log.info("dbt %s", node.log_line())


def _release_warehouse() -> None:
    """dbt-duckdb keeps its DuckDB handle after a run; the next stage in this process must open the file."""
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def _invoke_when_free(args: list[str], warehouse: Path) -> dbtRunnerResult:
    """Run dbt once the warehouse lock is free, waiting for it as every other stage does.

    dbt-duckdb opens the file itself and fails at once on a held lock, before any hook or node
    runs; so the lock is probed first, and a lock taken between the probe and dbt's own open
    ends this attempt with nothing written and is waited for within the same timeout.
    """
    from dbt.cli.main import dbtRunner  # heavy import: only when a build runs

    def attempt() -> dbtRunnerResult:
        probe(warehouse)
        try:
            outcome = dbtRunner().invoke(args)
        finally:
            _release_warehouse()
        if is_lock_conflict(outcome.exception):
            raise outcome.exception
        return outcome

    return wait_for_lock(warehouse, attempt)


def run_dbt(
    command: str = "build",
    *,
    as_of_date: date | None = None,
    full_refresh: bool = False,
    select: Sequence[str] = (),
    warehouse: Path | None = None,
    run_id: str = "manual",
    dbt_vars: Mapping[str, Any] | None = None,
) -> BuildReport:
    """Run one dbt command against the warehouse; raise BuildError if anything failed.

    Writing commands forget the last build's fingerprint (``ops.build_state``) in dbt's
    on-run-start, after the rule checks pass: a rejected rule leaves the warehouse untouched.
    """
    target = warehouse or get_settings().warehouse
    os.environ["TIERWISE_WAREHOUSE"] = str(target)
    os.environ[RUN_ID_ENV] = run_id
    set_as_of_date(as_of_date)
    started = time.perf_counter()
    args = dbt_args(command, full_refresh=full_refresh, select=select, dbt_vars=dbt_vars)
    outcome = _invoke_when_free(args, target)
    report = BuildReport(
        command=command,
        success=bool(outcome.success),
        elapsed=time.perf_counter() - started,
        nodes=_node_results(outcome.result),
    )
    _log_nodes(report)
    if outcome.exception is not None:
        raise BuildError(f"dbt {command} could not run: {outcome.exception}") from outcome.exception
    if not report.success:
        details = "; ".join(f"{n.unique_id}: {n.status} {n.message}".strip() for n in report.failed[:10])
        raise BuildError(f"dbt {command} failed: {details or 'see logs/dbt/dbt.log'}")
    return report


def project_vars(project_dir: Path) -> dict[str, Any]:
    """The vars block of dbt_project.yml: every rule and its default."""
    import yaml  # type: ignore[import-untyped]

    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    return dict(project.get("vars") or {})


def parse_dbt_vars(given: str | Mapping[str, Any] | None, project_dir: Path | None = None) -> dict[str, Any]:
    """Rules given for one run (``--vars`` in dbt's YAML syntax, or a DAG param), checked by name.

    dbt accepts any name silently, so a misspelt rule would change nothing: every name must be
    a var of dbt_project.yml. Values are checked by dbt's on-run-start (tierwise_validate_vars).
    """
    import yaml  # type: ignore[import-untyped]

    if isinstance(given, str):
        try:
            given = yaml.safe_load(given) if given.strip() else None
        except yaml.YAMLError as error:
            raise ConfigError(f"--vars is not valid YAML: {error}") from None
    if not given:
        return {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"--vars must be a mapping such as '{{tier_measure: net_revenue}}', got {given!r}")
    known = set(project_vars(project_dir or get_settings().dbt_project_dir))
    if "as_of_date" in given:
        # The date reaches dbt through the run (--as-of, DAG param as_of_date), which the build
        # state, the stage line and publishing read too; a var would override it for dbt alone.
        raise ConfigError(
            "--vars: as_of_date is not a rule; give the evaluation date as --as-of (DAG param as_of_date)"
        )
    unknown = sorted(str(name) for name in given if name not in known)
    if unknown:
        rules = ", ".join(sorted(known))
        raise ConfigError(
            f"--vars: unknown rule {unknown[0]!r}; the rules are the vars of dbt_project.yml: {rules}"
        )
    return {str(name): value for name, value in given.items()}
