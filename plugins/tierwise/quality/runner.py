"""``run_gate``: run a gate's committed GX checkpoint on the warehouse engine and record what it found.

One gate run opens the warehouse once (DuckDB has a single writer): GX computes on a cursor of
that connection, the results are written to ``ops.quality_results`` through it, then it closes.
On the Spark engine GX computes on Spark instead (:mod:`tierwise.quality.gx_spark`): the same
suites, through their Spark validation definitions (checkpoint ``<gate>_gate_spark``), over the
tables of Spark's catalog; the results go to the same table of the ledger, the docs to the same site.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import duckdb

from tierwise.engine import Engine, table_exists
from tierwise.engine.spark import keep_standard_loggers
from tierwise.exceptions import ConfigError, ValidationRunError
from tierwise.masking import get_logger
from tierwise.quality import outcomes, store
from tierwise.quality.docs_index import validation_statuses, write_offline_index
from tierwise.quality.gx_loading import gx_context, import_gx
from tierwise.quality.parameters import RunParameters, marts_parameters, raw_parameters
from tierwise.quality.project import DATA_DOCS_SITE, GX_DIR, checkpoint_name, register_data_source_types
from tierwise.quality.report import ExpectationResult, GateReport
from tierwise.quality.suites import SUITES
from tierwise.quality.thresholds import Thresholds, load_thresholds
from tierwise.quality.warehouse import DuckDBTables, SparkTables, Tables, tables_of
from tierwise.schema import OPTIONAL_ENTITIES
from tierwise.settings import EngineName, Settings

if TYPE_CHECKING:
    from tierwise.context import RunContext
    from tierwise.engine.spark import SparkEngine

log = get_logger(__name__)

DATA_DOCS_INDEX = Path(GX_DIR, "uncommitted", "data_docs", DATA_DOCS_SITE, "index.html")
_VARIABLE = re.compile(r"getvariable\('([A-Za-z0-9_]+)'\)")


@dataclass(frozen=True)
class _Run:
    gate: str
    run_id: str
    as_of_date: date | None
    validated_at: datetime  # UTC, naive (stored as TIMESTAMP)
    thresholds: Thresholds
    settings: Settings
    skipped: tuple[str, ...] = ()
    """Suites not run: optional entities no source loads."""
    engine: EngineName = EngineName.DUCKDB


def quiet_gx_logging(log_dir: Path) -> None:
    """Send GX's own logging to ``log_dir/great_expectations.log`` instead of the console."""
    gx_logger = logging.getLogger("great_expectations")
    gx_logger.setLevel(logging.WARNING)
    gx_logger.propagate = False
    target = str((log_dir / "great_expectations.log").resolve())
    if not any(getattr(h, "baseFilename", None) == target for h in gx_logger.handlers):
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        gx_logger.addHandler(handler)


def _check_tables(source: Tables | duckdb.DuckDBPyConnection, suites: tuple[str, ...]) -> None:
    # GX would report a missing table once per expectation, under a misleading unqualified name.
    data = tables_of(source)
    missing = [name for name in suites if not data.exists(*name.split("."))]
    if missing:
        first = "tierwise build" if missing[0].startswith("marts.") else "tierwise ingest"
        raise ValidationRunError(
            f"tables to validate do not exist: {', '.join(missing)} (run `{first}` first)"
        )


def unsourced(con: duckdb.DuckDBPyConnection, gate: str) -> tuple[str, ...]:
    """Raw suites of optional entities no source has ever loaded (a shop without a CRM export).

    Orders are never optional: without them there is nothing to grade, and the gate says so.
    """
    if gate != "raw" or not table_exists(con, "ops", "load_manifest"):
        return ()
    loaded = {str(row[0]) for row in con.execute("select distinct entity from ops.load_manifest").fetchall()}
    return tuple(
        spec.name for spec in SUITES[gate] if spec.table in OPTIONAL_ENTITIES and spec.table not in loaded
    )


def _parameters(con: duckdb.DuckDBPyConnection, run: _Run, data: Tables) -> RunParameters:
    if run.gate == "raw":
        return raw_parameters(con, run.thresholds, run.as_of_date, run.run_id, data)
    seed = run.settings.dbt_project_dir / "seeds" / "tier_ladder.csv"
    return marts_parameters(data, run.thresholds, seed)


def _referenced(expectation: Any) -> set[str]:
    """Parameter names an expectation needs: $PARAMETER references and getvariable() calls."""
    names: set[str] = set()
    for value in expectation.configuration.kwargs.values():
        if isinstance(value, dict) and "$PARAMETER" in value:
            names.add(str(value["$PARAMETER"]))
        elif isinstance(value, str):
            names |= {name.removeprefix("tw_") for name in _VARIABLE.findall(value)}
    return names


def _check_parameters(checkpoint: Any, params: RunParameters) -> None:
    # An unset DuckDB variable reads as NULL and a NULL bound silently passes: refuse to run.
    needed: set[str] = set()
    for definition in checkpoint.validation_definitions:
        for expectation in definition.suite.expectations:
            needed |= _referenced(expectation)
    missing = sorted(needed - set(params.values))
    if missing:
        raise ValidationRunError(f"suite parameters without a value: {', '.join(missing)}")


def _sampler(engine: Any) -> outcomes.RowSampler:
    def sample(query: str, limit: int) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        result = engine.execute_query(sa.text(f"select * from ({query}) as failing limit {int(limit)}"))
        return [dict(row._mapping) for row in result.fetchall()]

    return sample


def _collect(checkpoint_result: Any, sampler: outcomes.RowSampler) -> list[ExpectationResult]:
    results: list[ExpectationResult] = []
    for suite_result in checkpoint_result.run_results.values():
        # Suites are named after the table they validate (schema.table).
        suite = suite_result.suite_name
        results += outcomes.convert_suite(suite_result.results, suite, suite, sampler)
    return results


def _build_data_docs(context: Any, checkpoint_result: Any) -> None:
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suites = {r.suite_name for r in checkpoint_result.run_results.values()}
    # Only this run's pages (plus the index): a full rebuild grows with every stored result.
    identifiers = [*checkpoint_result.run_results, *(ExpectationSuiteIdentifier(name=s) for s in suites)]
    context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=identifiers)


@dataclass(frozen=True)
class _Binding:
    """How GX computes on the gate's engine, for the length of a run."""

    bind: AbstractContextManager[None]
    sampler: Callable[[], outcomes.RowSampler]
    batch_parameters: Callable[[str], dict[str, Any]] | None
    """Per suite (``schema.table``): the batch of a dataframe asset; None for table assets."""


def _binding(con: duckdb.DuckDBPyConnection, data: Tables, params: RunParameters) -> _Binding:
    if isinstance(data, SparkTables):
        from tierwise.quality import gx_spark

        return _Binding(
            gx_spark.bind_session(data.spark, params.variables()),
            lambda: gx_spark.sample_rows,
            gx_spark.batch_parameters,
        )
    from tierwise.quality.gx_duckdb import bind_warehouse, bound_execution_engine

    return _Binding(bind_warehouse(con, params.variables()), lambda: _sampler(bound_execution_engine()), None)


def _run_checkpoint(
    con: duckdb.DuckDBPyConnection, params: RunParameters, run: _Run, data: Tables
) -> list[ExpectationResult]:
    settings = run.settings
    quiet_gx_logging(settings.log_dir)  # before the import: GX logs while it loads
    gx = import_gx()
    register_data_source_types()
    binding = _binding(con, data, params)
    with binding.bind, warnings.catch_warnings():
        # GX's deprecation chatter would land in every task log; its log file keeps the detail.
        warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")
        context = gx_context(settings.expectations_dir)
        checkpoint = context.checkpoints.get(checkpoint_name(run.gate, run.engine))
        _check_parameters(checkpoint, params)
        run_identifier = gx.RunIdentifier(run_name=run.run_id, run_time=run.validated_at.replace(tzinfo=UTC))
        if run.skipped or binding.batch_parameters is not None:
            frames = binding.batch_parameters
            result = _run_definitions(checkpoint, run.skipped, params, run_identifier, frames)
        else:
            result = checkpoint.run(expectation_parameters=params.values, run_id=run_identifier)
        results = _collect(result, binding.sampler())
        _build_data_docs(context, result)
        return results


@dataclass(frozen=True)
class _PartialResult:
    run_results: dict[Any, Any]


def _run_definitions(
    checkpoint: Any,
    skipped: tuple[str, ...],
    params: RunParameters,
    run_id: Any,
    batch_parameters: Callable[[str], dict[str, Any]] | None = None,
) -> Any:
    """The checkpoint's validations without the skipped suites, stored as the checkpoint stores them.

    Checkpoint.run takes no subset, and a trimmed copy of the checkpoint would be saved into the
    committed project; each ValidationDefinition.run stores its own result. It also takes one
    set of batch parameters for all validations, where a dataframe asset needs its own table.
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    results = {}
    for definition in checkpoint.validation_definitions:
        suite_name = definition.suite.name  # schema.table
        if suite_name in skipped:
            continue
        result = definition.run(
            batch_parameters=batch_parameters(suite_name) if batch_parameters else None,
            checkpoint_id=checkpoint.id,
            expectation_parameters=params.values,
            result_format=checkpoint.result_format,
            run_id=run_id,
        )
        suite = ExpectationSuiteIdentifier(name=definition.suite.name)
        results[ValidationResultIdentifier(suite, run_id, result.batch_id)] = result
    return _PartialResult(results)


def _validate(
    con: duckdb.DuckDBPyConnection, run: _Run, data: Tables
) -> tuple[list[ExpectationResult], tuple[str, ...], Exception | None]:
    """Results and notes; on an exception, one error result per suite and the exception."""
    validated = tuple(spec.name for spec in SUITES[run.gate] if spec.name not in run.skipped)
    notes = tuple(
        f"{name}: not validated: no source has loaded {name.split('.')[1]} (ops.load_manifest); "
        "shops without that export are graded without it"
        for name in run.skipped
    )
    try:
        _check_tables(data, validated)
        params = _parameters(con, run, data)
        return _run_checkpoint(con, params, run, data), notes + params.notes, None
    except Exception as error:  # anything GX or our set-up raises means "could not validate"
        log.debug("%s gate could not run", run.gate, exc_info=error)
        return [outcomes.run_error(name, error) for name in validated], notes, error


def _log_report(report: GateReport) -> None:
    level = logging.INFO if report.passed and not report.warnings else logging.WARNING
    for line in report.summary_lines():
        log.log(level, "%s", line)


def _suites(gate: str) -> tuple[str, ...]:
    if gate not in SUITES:
        raise ConfigError(f"unknown quality gate {gate!r}; expected one of {', '.join(SUITES)}")
    return tuple(spec.name for spec in SUITES[gate])


def _tables(engine: Engine, con: duckdb.DuckDBPyConnection) -> Tables:
    """Where the gate's tables are: the warehouse ``con`` opened, or Spark's catalog."""
    if engine.name is EngineName.SPARK:
        return SparkTables(cast("SparkEngine", engine).session())
    return DuckDBTables(con)


def run_gate(ctx: RunContext, gate: str) -> GateReport:
    """Validate the ``raw`` or ``marts`` gate of the run's warehouse; return the report if it passed.

    Every expectation result is written to ``ops.quality_results`` and Data Docs are rebuilt,
    whatever the verdict. Then: raises ``ValidationRunError`` if any expectation (or the run)
    raised inside GX, which is neither a pass nor a data failure; raises ``QualityGateError``
    naming each failed critical expectation, its observed value and sample failing rows.
    Warnings (failed expectations of severity warning) are logged and stored, not raised.
    """
    suites = _suites(gate)
    started = time.perf_counter()
    # A bad thresholds file is a ConfigError, raised before the warehouse is touched.
    settings, run_id, as_of_date = ctx.settings, ctx.run_id, ctx.as_of_date
    thresholds = load_thresholds(settings.expectations_dir / "thresholds.yml")
    with ctx.engine.connect() as con:
        validated_at = datetime.now(UTC).replace(tzinfo=None)
        skipped = unsourced(con, gate)
        run = _Run(gate, run_id, as_of_date, validated_at, thresholds, settings, skipped, ctx.engine.name)
        results, notes, error = _validate(con, run, _tables(ctx.engine, con))
        store.write_results(
            con, results, run_id=run_id, validated_at=run.validated_at, as_of_date=as_of_date, gate=gate
        )
        statuses = validation_statuses(con)
    keep_standard_loggers()  # GX on Spark ran Spark Connect's threads
    docs = settings.expectations_dir / DATA_DOCS_INDEX
    if docs.is_file():
        docs = write_offline_index(docs.parent, statuses=statuses)
    report = GateReport(
        gate=gate,
        run_id=run_id,
        as_of_date=as_of_date,
        validated_at=run.validated_at,
        suites=tuple(name for name in suites if name not in run.skipped),
        results=tuple(results),
        data_docs_path=docs if docs.is_file() else None,
        elapsed=time.perf_counter() - started,
        notes=notes,
    )
    _log_report(report)
    if error is not None:
        message = f"{gate} gate could not validate: {type(error).__name__}: {error}"
        raise ValidationRunError(message) from error
    report.raise_for_failures()
    return report
