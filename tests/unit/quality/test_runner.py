"""The gate runner's own decisions: which suites run, which parameters they need, where GX logs.

A whole gate run is tested in tests/integration/test_quality_gates.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from tests.support import run_context

from tierwise.exceptions import ConfigError, ValidationRunError
from tierwise.quality import runner
from tierwise.quality.parameters import RunParameters, marts_parameters, raw_parameters
from tierwise.quality.suites import SUITES, expectations_for
from tierwise.quality.thresholds import load_thresholds

THRESHOLDS = load_thresholds(Path(__file__).resolve().parents[3] / "expectations" / "thresholds.yml")


def checkpoint(gate: str) -> SimpleNamespace:
    """The shape of a GX checkpoint the runner reads: definitions, each with a suite of expectations."""
    return SimpleNamespace(
        validation_definitions=[
            SimpleNamespace(suite=SimpleNamespace(expectations=expectations_for(spec.name)))
            for spec in SUITES[gate]
        ]
    )


def needed(gate: str) -> set[str]:
    return {
        name for spec in SUITES[gate] for e in expectations_for(spec.name) for name in runner._referenced(e)
    }


def test_parameters_are_found_in_references_and_in_sql_variables() -> None:
    assert needed("marts") == {
        "tier_codes",
        "staged_net_revenue",
        "revenue_abs_tolerance",
        "a_share_min",
        "a_share_max",
    }
    tables = ("orders", "contacts", "tickets")
    assert needed("raw") == {
        *(f"{table}_{kind}" for table in tables for kind in ("min_rows", "fresh_after")),
        *(f"{column}_{level}_mostly" for column in ("email", "phone") for level in ("warn", "fail")),
        "earliest_timestamp",
        "max_amount",
        "order_statuses",
        "currencies",
        "payment_methods",
        "contact_statuses",
        "account_types",
        "ticket_categories",
        "ticket_severities",
        "ticket_statuses",
    }


@pytest.fixture
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        con.execute("create schema raw; create schema marts; create schema intermediate")
        con.execute("create table marts.tier_ladder as select unnest(['bronze', 'gold']) as tier_code")
        con.execute("create table intermediate.int_orders_converted as select 12.5 as net_amount_eur")
        yield con


@pytest.mark.parametrize("gate", ["raw", "marts"])
def test_the_run_parameters_give_every_suite_parameter_a_value(
    warehouse: duckdb.DuckDBPyConnection, gate: str, tmp_path: Path
) -> None:
    if gate == "raw":
        params = raw_parameters(warehouse, THRESHOLDS, None, "r1")
    else:
        params = marts_parameters(warehouse, THRESHOLDS, tmp_path / "no-seed.csv")
    assert needed(gate) <= set(params.values)
    runner._check_parameters(checkpoint(gate), params)


def test_a_parameter_without_a_value_stops_the_run_before_gx_does() -> None:
    params = RunParameters({"tier_codes": ["gold"], "a_share_min": 0.01, "a_share_max": 0.3})
    with pytest.raises(
        ValidationRunError,
        match=r"^suite parameters without a value: revenue_abs_tolerance, staged_net_revenue$",
    ):
        runner._check_parameters(checkpoint("marts"), params)


def test_optional_entities_no_source_loaded_are_not_validated(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert runner.unsourced(warehouse, "raw") == ()  # no manifest: nothing was loaded, nothing skipped
    warehouse.execute("create schema ops; create table ops.load_manifest (entity varchar)")
    assert runner.unsourced(warehouse, "raw") == ("raw.contacts", "raw.tickets")  # orders never optional
    warehouse.execute("insert into ops.load_manifest values ('orders'), ('orders')")
    assert runner.unsourced(warehouse, "raw") == ("raw.contacts", "raw.tickets")
    warehouse.execute("insert into ops.load_manifest values ('tickets')")
    assert runner.unsourced(warehouse, "raw") == ("raw.contacts",)
    assert runner.unsourced(warehouse, "marts") == ()


def test_missing_tables_are_a_run_error_naming_them(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute("create table raw.orders (x integer)")
    with pytest.raises(
        ValidationRunError,
        match=r"^tables to validate do not exist: raw\.contacts, raw\.tickets "
        r"\(run `tierwise ingest` first\)$",
    ):
        runner._check_tables(warehouse, ("raw.orders", "raw.contacts", "raw.tickets"))
    with pytest.raises(ValidationRunError, match=r"marts\.customer_tiers \(run `tierwise build` first\)$"):
        runner._check_tables(warehouse, ("marts.customer_tiers",))


def test_an_unknown_gate_is_a_config_error_before_anything_runs(tmp_path: Path) -> None:
    ctx = run_context("r1", warehouse=tmp_path / "never-created.duckdb")
    with pytest.raises(ConfigError, match=r"^unknown quality gate 'bronze'; expected one of raw, marts$"):
        runner.run_gate(ctx, "bronze")
    assert not (tmp_path / "never-created.duckdb").exists()


def test_gx_logs_go_to_a_file_once(tmp_path: Path) -> None:
    gx_logger = logging.getLogger("great_expectations")
    saved = (gx_logger.level, gx_logger.propagate, list(gx_logger.handlers))
    try:
        runner.quiet_gx_logging(tmp_path / "logs")
        runner.quiet_gx_logging(tmp_path / "logs")
        added = [h for h in gx_logger.handlers if h not in saved[2]]
        assert [Path(h.baseFilename) for h in added] == [
            (tmp_path / "logs" / "great_expectations.log").resolve()
        ]  # type: ignore[attr-defined]
        assert (gx_logger.level, gx_logger.propagate) == (logging.WARNING, False)
        logging.getLogger("great_expectations.core").warning("metric batch slow")
        added[0].flush()
        assert (
            "WARNING great_expectations.core: metric batch slow"
            in (tmp_path / "logs" / "great_expectations.log").read_text()
        )
    finally:
        for handler in gx_logger.handlers[:]:
            if handler not in saved[2]:
                gx_logger.removeHandler(handler)
                handler.close()
        gx_logger.setLevel(saved[0])
        gx_logger.propagate = saved[1]
