"""(Re)write the committed GX project under ``expectations/gx`` from ``suites.py``.

Run ``python -m tierwise.quality.project`` after changing a suite and commit the JSON it writes:
data sources (great_expectations.yml), suites, validation definitions and one checkpoint per
gate and engine. Gate runs only read these files.

Each suite is written once and validated by two definitions: one on the DuckDB warehouse
(data sources ``raw`` and ``marts``, type ``tierwise_duckdb``, table assets) and one on Spark
(data sources ``raw_spark`` and ``marts_spark``, type ``tierwise_spark``, dataframe assets
whose DataFrame the runner hands in), gathered in the checkpoints ``<gate>_gate`` and
``<gate>_gate_spark``.
"""

from __future__ import annotations

import argparse
import shutil
from importlib import import_module
from pathlib import Path
from typing import Any

import duckdb

from tierwise.quality.suites import SUITES, SuiteSpec, expectations_for
from tierwise.settings import EngineName

GX_DIR = "gx"
BATCH_DEFINITION = "whole_table"
SPARK_BATCH_DEFINITION = "whole_dataframe"
DATA_DOCS_SITE = "local_site"
PARTIAL_UNEXPECTED_COUNT = 5
# Files GX writes that are committed; everything else under gx/ is regenerated or uncommitted.
_COMMITTED = ("great_expectations.yml", "expectations", "validation_definitions", "checkpoints")


def checkpoint_name(gate: str, engine: EngineName = EngineName.DUCKDB) -> str:
    return f"{gate}_gate" if engine is EngineName.DUCKDB else f"{gate}_gate_{engine.value}"


def spark_data_source(schema: str) -> str:
    return f"{schema}_spark"


def definition_name(suite: str, engine: EngineName) -> str:
    """The validation definition of ``suite`` on ``engine`` (DuckDB's is named after the suite)."""
    return suite if engine is EngineName.DUCKDB else f"{suite}@{engine.value}"


def result_format(gate: str) -> dict[str, Any]:
    """SUMMARY plus the columns that identify a failing row (file + line in raw, customer in marts)."""
    return {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": list(SUITES[gate][0].index_columns),
        "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT,
    }


def register_data_source_types() -> None:
    """Register the project's GX data source types; call before loading the GX context.

    GX registers a data source type when its class is defined; a context whose config names a
    type not registered fails to load, so both engines' types are needed on either engine.
    """
    for module in ("tierwise.quality.gx_duckdb", "tierwise.quality.gx_spark"):
        import_module(module)


def _stub_warehouse() -> duckdb.DuckDBPyConnection:
    # GX probes every table asset when it is added; empty stand-ins satisfy the probe.
    con = duckdb.connect()
    for specs in SUITES.values():
        for spec in specs:
            con.execute(f"create schema if not exists {spec.schema}")
            con.execute(f"create table if not exists {spec.name} (stub integer)")
    return con


def _configure(context: Any) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.analytics_enabled = False
    # Progress bars go to stderr on every metric batch: noise in task logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.variables.save()


def _add_suite(context: Any, spec: SuiteSpec) -> dict[EngineName, Any]:
    """The suite and its validation definition on each engine."""
    import great_expectations as gx

    datasource = context.data_sources.get(spec.schema)
    table = datasource.add_table_asset(name=spec.table, table_name=spec.table)
    frame = context.data_sources.get(spark_data_source(spec.schema)).add_dataframe_asset(name=spec.table)
    batches = {
        EngineName.DUCKDB: table.add_batch_definition_whole_table(BATCH_DEFINITION),
        EngineName.SPARK: frame.add_batch_definition_whole_dataframe(SPARK_BATCH_DEFINITION),
    }
    suite = context.suites.add(gx.ExpectationSuite(name=spec.name, expectations=expectations_for(spec.name)))
    return {
        engine: context.validation_definitions.add(
            gx.ValidationDefinition(name=definition_name(spec.name, engine), data=batch, suite=suite)
        )
        for engine, batch in batches.items()
    }


def _add_gate(context: Any, gate: str) -> None:
    import great_expectations as gx

    definitions = [_add_suite(context, spec) for spec in SUITES[gate]]
    for engine in EngineName:
        # No UpdateDataDocsAction: it rebuilds the site once per suite (seconds each); the runner
        # builds it once per gate run instead.
        checkpoint = gx.Checkpoint(
            name=checkpoint_name(gate, engine),
            validation_definitions=[by_engine[engine] for by_engine in definitions],
            result_format=result_format(gate),
        )
        context.checkpoints.add(checkpoint)


def build_project(root: Path) -> Path:
    """Write a fresh GX project under ``root/gx``; return its directory."""
    import great_expectations as gx

    from tierwise.quality.gx_duckdb import bind_warehouse

    register_data_source_types()

    gx_dir = root / GX_DIR
    for name in _COMMITTED:
        target = gx_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    with _stub_warehouse() as con, bind_warehouse(con):
        context = gx.get_context(mode="file", project_root_dir=root)
        _configure(context)
        for schema_name in sorted({spec.schema for specs in SUITES.values() for spec in specs}):
            context.data_sources.add_tierwise_duckdb(name=schema_name, database_schema=schema_name)
            context.data_sources.add_tierwise_spark(name=spark_data_source(schema_name))
        for gate in SUITES:
            _add_gate(context, gate)
    return gx_dir


def main(argv: list[str] | None = None) -> int:
    from tierwise.context import workspace

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="project root (default: expectations dir)")
    args = parser.parse_args(argv)
    print(build_project(args.root or workspace().expectations_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
