"""The stages of a Tierwise run, callable from Airflow tasks, the CLI and tests.

Each stage takes the run's :class:`~tierwise.context.RunContext`, does its work, reports one
progress line and returns a :class:`StageResult` (its :meth:`StageResult.to_dict` is what an
Airflow task hands on through XCom). :func:`run_order` is the order of a whole run, shared by
``tierwise run`` and the DAGs; :data:`REVIEW_ORDER` is the monthly review's.
"""

from __future__ import annotations

import atexit
import calendar
import functools
import gc
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierwise.console import progress
from tierwise.context import RunContext
from tierwise.exceptions import TierwiseError
from tierwise.names import DEFAULT_DESTINATIONS, Destination, Gate, StageName
from tierwise.schema import ENTITIES

if TYPE_CHECKING:
    from tierwise.ingest.report import FileResult, IngestReport

__all__ = ["DEFAULT_DESTINATIONS", "Destination", "Gate", "RunContext", "StageName", "StageResult", "Step"]


@dataclass(frozen=True)
class StageResult:
    """What a stage did: its one-line report, how long it took and details for the run summary."""

    stage: StageName
    line: str
    elapsed: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for XCom and the run summary's JSON file."""
        return {
            "stage": self.stage.value,
            "line": self.line,
            "elapsed": self.elapsed,
            "details": json.loads(json.dumps(self.details, default=_jsonable_value)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageResult:
        return cls(StageName(data["stage"]), str(data["line"]), float(data["elapsed"]), dict(data["details"]))


def _jsonable_value(value: object) -> object:
    return value.to_dict() if isinstance(value, StageResult) else str(value)


def evaluation_date_for(moment: date | datetime) -> date:
    """Month-end evaluation: a review run in month M evaluates as of the last day of M-1."""
    first_of_month = date(moment.year, moment.month, 1)
    return first_of_month - timedelta(days=1)


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


@functools.cache
def _freeze_heap_at_exit() -> None:
    """At exit, move every object out of the garbage collector's reach before Python finalizes.

    A process that ran stages holds the heaps of Airflow, GX, dbt's adapters, pandas and
    matplotlib; the full collections of interpreter shutdown traversed them for 2 s after a
    gate and 10 s after ``airflow dags test`` of the pipeline, doing nothing useful: the process
    is ending. Registered by the first stage, so it runs before the handlers registered earlier
    (Airflow's, logging's), which still run normally; connections are closed by their stages.
    """
    atexit.register(gc.freeze)


def _run_stage(stage: StageName, work: Callable[[], tuple[str, dict[str, Any]]]) -> StageResult:
    _freeze_heap_at_exit()
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
    return StageResult(stage, line, round(elapsed, 3), details)


def ingest(ctx: RunContext, source: str | Path, data_dir: Path | None = None) -> StageResult:
    """Load one source: a config name from config/sources, or the path of a config file."""

    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.ingest import ingest_source, load_source_config, load_source_configs

        settings = ctx.settings
        if isinstance(source, Path):
            config = load_source_config(source)
        else:
            configs = load_source_configs(settings.home / "config" / "sources")
            if source not in configs:
                raise TierwiseError(f"no source config named {source!r} in config/sources")
            config = configs[source]
        report = ingest_source(
            config,
            engine=ctx.engine,
            data_dir=data_dir or settings.data_dir,
            interval=ctx.interval,
            run_id=ctx.run_id,
        )
        return report.summary_line(), _ingest_details(report)

    return _run_stage(StageName.INGEST, work)


def _ingest_details(report: IngestReport) -> dict[str, Any]:
    """The report without its plain files: thousands of daily files made every task's XCom (and
    Airflow's masking of it) cost seconds. Every file stays in ``ops.load_manifest``."""
    from tierwise.ingest.report import LOADED, UNCHANGED

    def notable(file: FileResult) -> bool:
        plain = file.status in {LOADED, UNCHANGED} and not file.rows_quarantined
        return not plain or bool(file.error or file.new_columns or file.replaced)

    details = _jsonable(replace(report, files=tuple(file for file in report.files if notable(file))))
    details["files_by_status"] = dict(Counter(file.status for file in report.files))
    return details


def _evaluation_date(ctx: RunContext) -> tuple[date | None, str]:
    """The run's evaluation date, else the one dbt would take (the latest order date)."""
    if ctx.as_of_date is not None:
        return ctx.as_of_date, ""
    from tierwise.evaluation import latest_order_date

    if not ctx.engine.exists():
        return None, ""
    with ctx.engine.connect() as con:
        found = latest_order_date(con)
    return found, " (the latest order date)" if found else ""


def build(ctx: RunContext) -> StageResult:
    def work() -> tuple[str, dict[str, Any]]:
        from tierwise import build_state
        from tierwise.transform import run_dbt

        as_of, why = _evaluation_date(ctx)
        skippable = ctx.settings.build_skip_unchanged and not ctx.full_refresh
        valid = build_state.still_valid(ctx, as_of) if skippable and as_of else None
        if valid is not None:
            run_id, fingerprint = valid
            line = (
                f"dbt build skipped: nothing the evaluation as of {as_of}{why} reads has changed "
                f"since the build of run {run_id} (TIERWISE_BUILD_SKIP_UNCHANGED=0 forces a build)"
            )
            return line, {"skipped": True, "built_by": run_id, "fingerprint": fingerprint.digest}
        build_state.forget_outside_dbt(ctx)
        report = run_dbt(ctx, "build", as_of_date=as_of)
        fetched = ctx.engine.after_build()
        if as_of:
            build_state.remember(ctx, as_of)
        slowest = sorted(report.nodes, key=lambda node: node.seconds, reverse=True)[:10]
        details = {
            "as_of_date": str(as_of) if as_of else None,
            "vars": dict(ctx.dbt_vars),
            "counts": report.counts,
            "elapsed": report.elapsed,
            "slowest": [(node.unique_id, round(node.seconds, 2)) for node in slowest],
            **({"marts_fetched": fetched} if fetched else {}),
        }
        return f"{report.summary_line()}; as of {as_of or 'today (no orders)'}{why}", details

    return _run_stage(StageName.BUILD, work)


def validate(ctx: RunContext, gate: Gate | str) -> StageResult:
    """Run a quality gate; marts that pass are copied to the BI snapshot at once.

    Every path that validates new marts (``tierwise validate --gate marts``, ``tierwise run``,
    every DAG) goes through here, so the snapshot BI tools read is always the last validated
    evaluation, never one that failed its gate. A snapshot that cannot be written (disk full,
    permissions) does not undo the gate's verdict: the stage reports it, BI tools keep the
    previous snapshot, and publishing goes on.
    """
    checked = Gate(gate)

    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.quality import run_gate

        report = run_gate(ctx, checked)
        lines = report.summary_lines()
        return lines[0], {"lines": lines, "data_docs": str(report.data_docs_path)}

    result = _run_stage(StageName.VALIDATE, work)
    if checked is Gate.MARTS:
        result.details["snapshot"] = _refresh_snapshot(ctx).to_dict()
    return result


def _refresh_snapshot(ctx: RunContext) -> StageResult:
    import duckdb

    try:
        return snapshot(ctx)
    except (TierwiseError, OSError, duckdb.Error) as error:  # reported by _run_stage already
        line = f"FAILED: {error}; BI tools keep the previous snapshot"
        return StageResult(StageName.SNAPSHOT, line, 0.0, {"error": str(error)})


def publish(
    ctx: RunContext,
    destinations: Sequence[Destination | str] = DEFAULT_DESTINATIONS,
    *,
    full_resync: bool = False,
    sample: int = 5,
) -> StageResult:
    """Publish the run's tiers; ``full_resync`` sends every record again (see :mod:`tierwise.publish`).

    A dry run's details hold, for up to ``sample`` records per stream, the fields that would change.
    """

    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.publish import publish as publish_to

        report = publish_to(destinations, ctx, full_resync=full_resync, sample=sample)
        return report.headline(), {"lines": report.summary_lines()}

    return _run_stage(StageName.PUBLISH, work)


def _jsonable(report: object) -> dict[str, Any]:
    try:
        raw = asdict(report)  # type: ignore[call-overload]
    except TypeError:
        return {"repr": repr(report)}
    return dict(json.loads(json.dumps(raw, default=str)))


def summarize(ctx: RunContext, results: Sequence[StageResult]) -> str:
    """Write the run summary; returns its path (the text is also in logs/last_run_summary.txt)."""
    from tierwise.summary import write_summary

    return str(write_summary(ctx, results))


def snapshot(ctx: RunContext) -> StageResult:
    def work() -> tuple[str, dict[str, Any]]:
        from tierwise.snapshot import publish_snapshot

        path, tables, elapsed = publish_snapshot(ctx.settings, ctx.engine)
        return f"read-only BI snapshot of {tables} marts -> {path} in {elapsed:.1f}s", {"path": str(path)}

    return _run_stage(StageName.SNAPSHOT, work)


@dataclass(frozen=True)
class Step:
    """One task of a run: its task id in the DAGs and the stage call it makes with the run's context."""

    name: str
    run: Callable[[RunContext], StageResult]


def ingest_step(source: str | Path, data_dir: Path | None = None) -> Step:
    name = source.stem if isinstance(source, Path) else source
    return Step(f"ingest_{name}", lambda ctx: ingest(ctx, source, data_dir))


def publish_step(name: str, destinations: Sequence[Destination]) -> Step:
    return Step(name, lambda ctx: publish(ctx, destinations))


INGEST = tuple(ingest_step(source) for source in ENTITIES)
RAW_GATE = Step("raw_quality_gate", lambda ctx: validate(ctx, Gate.RAW))
BUILD = Step("dbt_build", build)
MARTS_GATE = Step("marts_quality_gate", lambda ctx: validate(ctx, Gate.MARTS))  # refreshes the BI snapshot
PUBLISH = publish_step("publish", DEFAULT_DESTINATIONS)
# The monthly review: the new evaluation from the data already loaded, published, then notified.
REVIEW_ORDER: tuple[tuple[Step, ...], ...] = (
    (BUILD,),
    (MARTS_GATE,),
    (publish_step("publish", (Destination.FILES, Destination.DATABASE, Destination.CRM)),),
    (publish_step("notify_tier_changes", (Destination.NOTIFICATIONS,)),),
)


def run_order(
    sources: Sequence[Path] | None = None,
    destinations: Sequence[Destination] | None = None,
    data_dir: Path | None = None,
) -> tuple[tuple[Step, ...], ...]:
    """A whole run, in order; the steps of one group do not depend on each other.

    By default the sources of config/sources and the default destinations; ``tierwise run`` can
    name other source configs, a data folder or destinations.
    """
    ingest_steps = (
        tuple(ingest_step(path, data_dir) for path in sources)
        if sources
        else tuple(ingest_step(name, data_dir) for name in ENTITIES)
    )
    publishing = publish_step("publish", destinations) if destinations else PUBLISH
    return (ingest_steps, (RAW_GATE,), (BUILD,), (MARTS_GATE,), (publishing,))


RUN_ORDER = run_order()


def run_all(ctx: RunContext, order: Sequence[Sequence[Step]] = RUN_ORDER) -> list[StageResult]:
    """Every step of ``order`` one after the other; stops at the first failure."""
    return [step.run(ctx) for group in order for step in group]
