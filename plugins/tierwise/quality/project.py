"""(Re)write the committed GX project under ``expectations/gx`` from ``suites.py``.

Run ``python -m tierwise.quality.project`` after changing a suite and commit the JSON it writes:
data sources (great_expectations.yml), suites, validation definitions and one checkpoint per
gate. Gate runs only read these files.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import duckdb

from tierwise.quality.suites import SUITES, SuiteSpec, expectations_for

GX_DIR = "gx"
BATCH_DEFINITION = "whole_table"
DATA_DOCS_SITE = "local_site"
PARTIAL_UNEXPECTED_COUNT = 5
# Files GX writes that are committed; everything else under gx/ is regenerated or uncommitted.
_COMMITTED = ("great_expectations.yml", "expectations", "validation_definitions", "checkpoints")


def checkpoint_name(gate: str) -> str:
    return f"{gate}_gate"


def result_format(gate: str) -> dict[str, Any]:
    """SUMMARY plus the columns that identify a failing row (file + line in raw, customer in marts)."""
    return {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": list(SUITES[gate][0].index_columns),
        "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT,
    }


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


def _add_suite(context: Any, spec: SuiteSpec) -> Any:
    import great_expectations as gx

    datasource = context.data_sources.get(spec.schema)
    asset = datasource.add_table_asset(name=spec.table, table_name=spec.table)
    batch_definition = asset.add_batch_definition_whole_table(BATCH_DEFINITION)
    suite = context.suites.add(gx.ExpectationSuite(name=spec.name, expectations=expectations_for(spec.name)))
    definition = gx.ValidationDefinition(name=spec.name, data=batch_definition, suite=suite)
    return context.validation_definitions.add(definition)


def _add_gate(context: Any, gate: str) -> None:
    import great_expectations as gx

    definitions = [_add_suite(context, spec) for spec in SUITES[gate]]
    # No UpdateDataDocsAction: it rebuilds the site once per suite (seconds each); the runner
    # builds it once per gate run instead.
    checkpoint = gx.Checkpoint(
        name=checkpoint_name(gate), validation_definitions=definitions, result_format=result_format(gate)
    )
    context.checkpoints.add(checkpoint)


def build_project(root: Path) -> Path:
    """Write a fresh GX project under ``root/gx``; return its directory."""
    import great_expectations as gx

    from tierwise.quality.gx_duckdb import bind_warehouse

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
