"""The transform stage: ``dbt build`` of the project, one dbt process per build.

dbt gets its configuration through its own mechanisms: the profile's ``env_var()`` calls
read the values the run context's engine gives (:meth:`Engine.dbt_env`), the rules of a run
arrive as ``--vars``. dbt's log goes to ``logs/dbt/dbt.log``; this module reports one line
per build, and every node's result from dbt's ``run_results.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierwise.engine import Engine, WarehouseBusyError
from tierwise.exceptions import BuildError, ConfigError
from tierwise.settings import Settings

if TYPE_CHECKING:
    from tierwise.context import RunContext

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
BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"
# Read by dbt's on-run-start (macro tierwise_forget_build_state) for the row it writes.
RUN_ID_ENV = "TIERWISE_RUN_ID"
# Set in dbt's environment, read back from run_results.json's metadata (dbt records DBT_ENV_CUSTOM_ENV_*).
INVOCATION_ENV = "DBT_ENV_CUSTOM_ENV_TIERWISE_INVOCATION"
# dbt reads its saved parse from this path when set (a hidden flag of dbt's), and writes the
# new one to its target folder whatever the flag says.
PARTIAL_PARSE_ENV = "DBT_PARTIAL_PARSE_FILE_PATH"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# Warehouses whose parse is kept (about 1.4 MB each): the DAG's, a developer's, the bench's.
KEPT_PARSES = 8
_TIMESTAMP = re.compile(r"^\d{2}:\d{2}:\d{2}\s+")


def dbt_args(
    settings: Settings,
    command: str,
    *,
    full_refresh: bool = False,
    select: Sequence[str] = (),
    dbt_vars: Mapping[str, Any] | None = None,
    extra: Sequence[str] = (),
    target_path: Path | None = None,
) -> list[str]:
    """dbt's command line; ``target_path`` is the project's ``target`` folder unless given (a
    simulation keeps its artifacts apart from the live build's)."""
    log_path = settings.log_dir / "dbt"
    args = [
        # The console gets errors only: they are what a failed build reports (run_results.json
        # has the nodes); the file log has everything.
        "--log-level",
        "error",
        "--no-use-colors",
        "--log-level-file",
        "info",
        "--log-path",
        str(log_path),
        *command.split(),  # "build", or a command with a subcommand: "docs generate"
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
        "--target-path",
        str(target_path or settings.dbt_project_dir / "target"),
    ]
    if command == "build" and not settings.dbt_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if full_refresh and command in {"build", "run", "seed"}:
        args.append("--full-refresh")
    for selector in select:
        args += ["--select", selector]
    args += extra
    if dbt_vars:
        # JSON is YAML, dbt's --vars syntax; a changed value makes dbt re-parse what reads it.
        args += ["--vars", json.dumps(dict(dbt_vars), sort_keys=True, default=str)]
    return args


def dbt_env(ctx: RunContext, as_of_date: date | None) -> dict[str, str]:
    """The environment of the dbt process: the engine's target, the run id and the evaluation date.

    The date goes through the environment, not --vars: a changed var makes dbt re-parse the
    whole project whenever the date changes (every run of a daily DAG); a changed env var
    re-parses only the model reading it.
    """
    env = {name: value for name, value in os.environ.items() if name != AS_OF_ENV}
    env.update(ctx.engine.dbt_env())
    env[RUN_ID_ENV] = ctx.run_id
    # The CLV models' numpy runs its BLAS (dot products of the likelihoods' gradients) on
    # a thread per core by default, on cores DuckDB and dbt's other thread are using: the
    # threads then wait for each other in every call (the CLV fit at 1M orders: 6.9 s -> 0.7 s
    # with one thread). One thread also sums in the same order on every machine.
    env.setdefault(BLAS_THREADS_ENV, "1")
    env[INVOCATION_ENV] = uuid.uuid4().hex
    if as_of_date is not None:
        env[AS_OF_ENV] = as_of_date.isoformat()
    return env


def _node_results(run_results: Mapping[str, Any]) -> tuple[NodeResult, ...]:
    """The nodes of dbt's ``run_results.json`` (its documented artifact schema)."""
    return tuple(
        NodeResult(
            unique_id=str(item.get("unique_id", "unknown")),
            status=str(item.get("status")),
            message=str(item.get("message") or ""),
            failures=item.get("failures"),
            seconds=float(item.get("execution_time") or 0.0),
        )
        for item in run_results.get("results") or []
    )


def _log_nodes(report: BuildReport) -> None:
    """Per-model visibility in the task log: every node's status and time, slowest first."""
    for node in sorted(report.nodes, key=lambda n: n.seconds, reverse=True):
        log.info("dbt %s", node.log_line())


@dataclass(frozen=True)
class DbtOutcome:
    returncode: int
    errors: str
    run_results: Mapping[str, Any]


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """In the dbt process, before dbt starts: be killed when the stage's process dies.

    A stage killed with SIGKILL (an Airflow task timed out, the OOM killer, ``kill -9`` of
    ``tierwise run``) must not leave dbt writing the warehouse behind it, holding DuckDB's lock
    for the rerun. Linux's parent-death signal does that; elsewhere there is nothing to set.
    """
    if not sys.platform.startswith("linux"):
        return None

    def arm() -> None:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the stage died before the signal was armed
            os._exit(1)

    return arm


def _invoke(args: list[str], env: Mapping[str, str], target: Path, engine: Engine) -> DbtOutcome:
    """One dbt process; its results come from the run_results.json it writes.

    dbt runs as its own process, with its configuration in that process's environment: dbt
    reads ``env_var()`` from the environment only, and this process's environment stays as
    it was (one dbt invocation per build, so its start-up is paid once either way).
    """
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", engine.dbt_launcher(), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    if done.returncode == 2 and engine.busy(output):
        # Another writer took the warehouse before dbt opened it: nothing was written.
        raise WarehouseBusyError(output)
    return DbtOutcome(done.returncode, dbt_errors(done.stdout, done.stderr), _run_results(results_file, env))


def _run_results(path: Path, env: Mapping[str, str]) -> Mapping[str, Any]:
    """This invocation's run_results.json: the target folder is shared by every warehouse of a project,
    so a file another build wrote in the meantime (its own ``TIERWISE_INVOCATION``) is not ours."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ours = results.get("metadata", {}).get("env", {}).get("TIERWISE_INVOCATION")
    return dict(results) if ours == env[INVOCATION_ENV] else {}


def parse_cache(target: Path, engine_env: Mapping[str, str]) -> Path:
    """Where dbt's parse of the project against one target is kept, apart from other targets'.

    dbt saves its parse (``target/partial_parse.msgpack``) to re-read only the files that
    changed, but drops it when the profile's connection differs from the saved one's: the
    warehouse path is part of it. Every warehouse built from one project (the bench's, a
    developer's next to the DAG's) then forced a full parse of every build (3-4 s). Each
    target's connection values (the engine's part of dbt's environment) get their own copy;
    dbt still checks every copy it reads, so a stale or foreign one costs a full parse, never
    a wrong manifest.
    """
    key = hashlib.sha256(json.dumps(sorted(engine_env.items())).encode()).hexdigest()[:16]
    return target / "partial_parse" / f"{key}.msgpack"


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _copy_to_read(kept: Path, invocation: str) -> Path | None:
    """A copy of the kept parse for this dbt process alone, or None when there is none.

    dbt refuses to start when the file its flag names is missing, and another build may
    prune ``kept`` (:func:`_keep_parse`) while this one runs.
    """
    try:
        reading = kept.with_name(f"{kept.stem}.{invocation}.read")
        reading.write_bytes(kept.read_bytes())
    except OSError:
        return None
    return reading


def _keep_parse(written: Path, kept: Path) -> None:
    """Copy the parse dbt just wrote to ``kept``, whole or not at all (a build of another
    warehouse may read it at the same time), and drop all but the newest KEPT_PARSES (a test
    suite builds a warehouse per test). A copy that fails only costs the next full parse."""
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
        partial.write_bytes(written.read_bytes())
        partial.replace(kept)
        newest_first = sorted(kept.parent.glob("*.msgpack"), key=lambda path: _mtime(path) or 0, reverse=True)
        for stale in newest_first[KEPT_PARSES:]:
            stale.unlink(missing_ok=True)
    except OSError as error:
        log.info("dbt's parse not kept for the next build: %s", error)


def run_dbt(
    ctx: RunContext,
    command: str = "build",
    *,
    as_of_date: date | None = None,
    select: Sequence[str] = (),
    extra: Sequence[str] = (),
    target_path: Path | None = None,
) -> BuildReport:
    """Run one dbt command against the run's warehouse; raise BuildError if anything failed.

    Writing commands forget the last build's fingerprint (``ops.build_state``) in dbt's
    on-run-start, after the rule checks pass: a rejected rule leaves the warehouse untouched.
    """
    settings = ctx.settings
    started = time.perf_counter()
    target = target_path or settings.dbt_project_dir / "target"
    args = dbt_args(
        settings,
        command,
        full_refresh=ctx.full_refresh,
        select=select,
        dbt_vars=ctx.dbt_vars,
        extra=extra,
        target_path=target,
    )
    env = dbt_env(ctx, as_of_date)
    saved_parse = parse_cache(target, ctx.engine.dbt_env())
    reading = _copy_to_read(saved_parse, env[INVOCATION_ENV])
    if reading:
        env[PARTIAL_PARSE_ENV] = str(reading)
    written = target / PARTIAL_PARSE_FILE
    before = _mtime(written)
    try:
        outcome = ctx.engine.exclusive(lambda: _invoke(args, env, target, ctx.engine))
    finally:
        if reading:
            reading.unlink(missing_ok=True)
    if _mtime(written) != before:
        _keep_parse(written, saved_parse)
    report = BuildReport(
        command=command,
        success=outcome.returncode == 0,
        elapsed=time.perf_counter() - started,
        nodes=_node_results(outcome.run_results),
    )
    _log_nodes(report)
    if outcome.returncode not in (0, 1) or (outcome.returncode == 1 and not report.failed):
        raise BuildError(f"dbt {command} could not run: {outcome.errors}")
    if not report.success:
        details = "; ".join(f"{n.unique_id}: {n.status} {n.message}".strip() for n in report.failed[:10])
        raise BuildError(f"dbt {command} failed: {details or 'see logs/dbt/dbt.log'}")
    return report


def dbt_passthrough(ctx: RunContext, args: Sequence[str]) -> int:
    """Run dbt with the given arguments on the workspace's project and target; its exit code.

    For analysts who run dbt by hand: the profile reads its target from the environment the
    run context gives, which this sets for the dbt process only.
    """
    given = [arg for arg in args if arg != "--"] or ["--help"]
    settings = ctx.settings
    project = [
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_profiles_dir),
    ]
    command = [sys.executable, "-c", ctx.engine.dbt_launcher(), *given]
    if given[0] not in {"--help", "-h", "--version"}:
        command += project
    env = dbt_env(ctx, ctx.as_of_date)
    # The engine's own gate around dbt: DuckDB's lock, or Spark's local server started first.
    return ctx.engine.exclusive(lambda: subprocess.run(command, env=env, check=False).returncode)


def dbt_errors(stdout: str, stderr: str = "") -> str:
    """What dbt said went wrong, without its tracebacks: the message a user can act on.

    dbt prints one event per timestamped line (continuation lines have none); an unexpected
    error is one event "Encountered an error:" with its message, then one event per traceback.
    """
    events: list[list[str]] = []
    for line in stdout.splitlines():
        stamp = _TIMESTAMP.match(line)
        if stamp or not events:
            events.append([line[stamp.end() :] if stamp else line])
        else:
            events[-1].append(line)
    told = []
    for event in events:
        if event[0].startswith("Traceback"):
            continue
        text = "\n".join(line.rstrip() for line in event if line.strip())
        text = text.removeprefix("Encountered an error:").strip()
        if text:
            told.append(text)
    if told:
        return "\n".join(told)
    last = stderr.strip().splitlines()[-1:]  # dbt did not get as far as its own logging
    return last[0] if last else "no output; see logs/dbt/dbt.log"


def project_vars(project_dir: Path) -> dict[str, Any]:
    """The vars block of dbt_project.yml: every rule and its default."""
    import yaml

    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    return dict(project.get("vars") or {})


def parse_dbt_vars(given: str | Mapping[str, Any] | None, project_dir: Path) -> dict[str, Any]:
    """Rules given for one run (``--vars`` in dbt's YAML syntax, or a DAG param), checked by name.

    dbt accepts any name silently, so a misspelt rule would change nothing: every name must be
    a var of dbt_project.yml. Values are checked by dbt's on-run-start (tierwise_validate_vars).
    """
    import yaml

    if isinstance(given, str):
        try:
            given = yaml.safe_load(given) if given.strip() else None
        except yaml.YAMLError as error:
            raise ConfigError(f"--vars is not valid YAML: {error}") from None
    if not given:
        return {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"--vars must be a mapping such as '{{tier_measure: net_revenue}}', got {given!r}")
    known = set(project_vars(project_dir))
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
