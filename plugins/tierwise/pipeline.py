"""The stages of a Tierwise run, callable from Airflow tasks, the CLI and tests.

Each stage takes a :class:`RunContext`, does its work, reports one progress
line and returns a small JSON-able dict (safe to pass through XCom).
:data:`RUN_ORDER` is the order of a whole run, shared by ``tierwise run`` and the DAGs.
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tierwise.console import progress
from tierwise.exceptions import TierwiseError
from tierwise.settings import get_settings

SOURCES = ("orders", "contacts", "tickets")
DEFAULT_DESTINATIONS = ("files", "database")
StageResult = dict[str, Any]


@dataclass(frozen=True)
class RunContext:
    run_id: str
    as_of_date: date | None
    interval: tuple[date, date] | None = None
    full_refresh: bool = False
    dry_run: bool = False
    gate_override: str | None = None  # publish past a marts gate that did not pass, for this reason
    dbt_vars: dict[str, Any] = field(default_factory=dict)
    """Rules for this run only (dbt vars), over dbt_project.yml's; recorded in the build state."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)


def evaluation_date_for(moment: date | datetime) -> date:
    """Month-end evaluation: a review run in month M evaluates as of the last day of M-1."""
    first_of_month = date(moment.year, moment.month, 1)
    return first_of_month - timedelta(days=1)


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def _run_stage(stage: str, work: Callable[[], tuple[str, dict[str, Any]]]) -> StageResult:
    started = time.perf_counter()
    try:
        line, details = work()
    except TierwiseError as error:
        progress(stage, f"FAILED after {time.perf_counter() - started:.1f}s: {error}")
        raise
    except Exception as error:
        progress(
            stage,
            f"FAILED after {time.perf_counter() - started:.1f}s (unexpected {type(error).__name__}): {error}",
        )
        raise
    elapsed = time.perf_counter() - started
    progress(stage, line)
    return {"stage": stage, "line": line, "elapsed": round(elapsed, 3), "details": details}


def ingest(ctx: RunContext, source: str | Path, data_dir: Path | None = None) -> StageResult:
    """Load one source: a config name from config/sources, or the path of a config file."""

    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.ingest import ingest_source, load_source_config, load_source_configs

        settings = get_settings()
        if isinstance(source, Path):
            config = load_source_config(source)
        else:
            configs = load_source_configs(settings.home / "config" / "sources")
            if source not in configs:
                raise TierwiseError(f"no source config named {source!r} in config/sources")
            config = configs[source]
        report = ingest_source(
            config, data_dir=data_dir or settings.data_dir, interval=ctx.interval, run_id=ctx.run_id
        )
        return report.summary_line(), _jsonable(report)

    return _run_stage("ingest", work)


def _evaluation_date(ctx: RunContext) -> tuple[date | None, str]:
    """The run's evaluation date, else the one dbt would take (the latest order date)."""
    if ctx.as_of_date is not None:
        return ctx.as_of_date, ""
    from tierwise.evaluation import latest_order_date
    from tierwise.warehouse import connect

    if not get_settings().warehouse.exists():
        return None, ""
    with connect() as con:
        found = latest_order_date(con)
    return found, " (the latest order date)" if found else ""


def build(ctx: RunContext) -> StageResult:
    def work() -> tuple[str, dict[str, Any]]:
        from tierwise import build_state
        from tierwise.transform import run_dbt

        as_of, why = _evaluation_date(ctx)
        skippable = get_settings().build_skip_unchanged and not ctx.full_refresh
        valid = build_state.still_valid(as_of, ctx.dbt_vars) if skippable and as_of else None
        if valid is not None:
            run_id, fingerprint = valid
            line = (
                f"dbt build skipped: nothing the evaluation as of {as_of}{why} reads has changed "
                f"since the build of run {run_id} (TIERWISE_BUILD_SKIP_UNCHANGED=0 forces a build)"
            )
            return line, {"skipped": True, "built_by": run_id, "fingerprint": fingerprint.digest}
        report = run_dbt(
            "build", as_of_date=as_of, full_refresh=ctx.full_refresh, run_id=ctx.run_id, dbt_vars=ctx.dbt_vars
        )
        if as_of:
            build_state.remember(as_of, ctx.run_id, ctx.dbt_vars)
        slowest = sorted(report.nodes, key=lambda node: node.seconds, reverse=True)[:10]
        details = {
            "as_of_date": str(as_of) if as_of else None,
            "vars": ctx.dbt_vars,
            "counts": report.counts,
            "elapsed": report.elapsed,
            "slowest": [(node.unique_id, round(node.seconds, 2)) for node in slowest],
        }
        return f"{report.summary_line()}; as of {as_of or 'today (no orders)'}{why}", details

    return _run_stage("build", work)


def validate(ctx: RunContext, gate: str) -> StageResult:
    """Run a quality gate; marts that pass are copied to the BI snapshot at once.

    Every path that validates new marts (``tierwise validate --gate marts``, ``tierwise run``,
    every DAG) goes through here, so the snapshot BI tools read is always the last validated
    evaluation, never one that failed its gate. A snapshot that cannot be written (disk full,
    permissions) does not undo the gate's verdict: the stage reports it, BI tools keep the
    previous snapshot, and publishing goes on.
    """

    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.quality import run_gate

        report = run_gate(gate, run_id=ctx.run_id, as_of_date=ctx.as_of_date)
        lines = report.summary_lines()
        return lines[0], {"lines": lines, "data_docs": str(report.data_docs_path)}

    result = _run_stage("validate", work)
    if gate == "marts":
        result["details"]["snapshot"] = _refresh_snapshot(ctx)
    return result


def _refresh_snapshot(ctx: RunContext) -> StageResult:
    import duckdb

    try:
        return snapshot(ctx)
    except (TierwiseError, OSError, duckdb.Error) as error:  # reported by _run_stage already
        line = f"FAILED: {error}; BI tools keep the previous snapshot"
        return {"stage": "snapshot", "line": line, "elapsed": 0.0, "details": {"error": str(error)}}


def publish(ctx: RunContext, destinations: Sequence[str] = DEFAULT_DESTINATIONS) -> StageResult:
    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.publish import publish as publish_to

        report = publish_to(
            destinations,
            run_id=ctx.run_id,
            as_of_date=ctx.as_of_date,
            dry_run=ctx.dry_run,
            gate_override=ctx.gate_override,
        )
        return report.headline(), {"lines": report.summary_lines()}

    return _run_stage("publish", work)


def _jsonable(report: object) -> dict[str, Any]:
    try:
        raw = asdict(report)  # type: ignore[call-overload]
    except TypeError:
        return {"repr": repr(report)}
    return json.loads(json.dumps(raw, default=str))


def summarize(ctx: RunContext, results: Sequence[StageResult]) -> str:
    """Write the run summary; returns its path (the text is also in logs/last_run_summary.txt)."""
    from tierwise.summary import write_summary

    return str(write_summary(ctx, results))


def snapshot(ctx: RunContext) -> StageResult:
    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.snapshot import publish_snapshot

        path, tables, elapsed = publish_snapshot()
        return f"read-only BI snapshot of {tables} marts -> {path} in {elapsed:.1f}s", {"path": str(path)}

    return _run_stage("snapshot", work)


@dataclass(frozen=True)
class Step:
    """One task of a run: a stage of this module, its arguments, and its task id in the DAGs."""

    name: str
    stage: str
    args: tuple[Any, ...] = ()


INGEST = tuple(Step(f"ingest_{source}", "ingest", (source,)) for source in SOURCES)
RAW_GATE = Step("raw_quality_gate", "validate", ("raw",))
BUILD = Step("dbt_build", "build")
MARTS_GATE = Step("marts_quality_gate", "validate", ("marts",))  # refreshes the BI snapshot
PUBLISH = Step("publish", "publish")
# A whole run, in order; the steps of one group do not depend on each other.
RUN_ORDER: tuple[tuple[Step, ...], ...] = (INGEST, (RAW_GATE,), (BUILD,), (MARTS_GATE,), (PUBLISH,))
# The monthly review: the new evaluation from the data already loaded, published, then notified.
REVIEW_ORDER: tuple[tuple[Step, ...], ...] = (
    (BUILD,),
    (MARTS_GATE,),
    (Step("publish", "publish", (("files", "database", "crm"),)),),
    (Step("notify_tier_changes", "publish", (("notifications",),)),),
)
_STAGES: dict[str, Callable[..., StageResult]] = {
    "ingest": ingest,
    "validate": validate,
    "build": build,
    "publish": publish,
    "snapshot": snapshot,
}


def run_order(
    sources: Sequence[Path] | None = None,
    destinations: Sequence[str] | None = None,
    data_dir: Path | None = None,
) -> tuple[tuple[Step, ...], ...]:
    """:data:`RUN_ORDER` with other source configs, a data folder or destinations (``tierwise run``)."""
    ingest_steps = (
        tuple(Step(f"ingest_{path.stem}", "ingest", (path, data_dir)) for path in sources)
        if sources
        else tuple(Step(step.name, step.stage, (*step.args, data_dir)) for step in INGEST)
    )
    publish_step = Step("publish", "publish", (tuple(destinations),)) if destinations else PUBLISH
    return (ingest_steps, (RAW_GATE,), (BUILD,), (MARTS_GATE,), (publish_step,))


def run_step(ctx: RunContext, step: Step) -> StageResult:
    return _STAGES[step.stage](ctx, *step.args)


def run_all(ctx: RunContext, order: Sequence[Sequence[Step]] = RUN_ORDER) -> list[StageResult]:
    """Every step of ``order`` one after the other; stops at the first failure."""
    return [run_step(ctx, step) for group in order for step in group]
