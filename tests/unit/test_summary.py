"""The run summary's CLV line: a fit that is not converged is said, with why, in one line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.support import run_context

from tierwise.summary import render, warehouse_facts

MARTS = """
create schema marts;
create table marts.customer_tiers as
select 'C1' as customer_id, date '2011-12-09' as as_of_date, 'gold' as tier_code, 3 as tier_rank,
       'A' as abc_class, 100.0 as measure_value;
create table marts.customer_value as select 'C1' as customer_id;
create table marts.clv_fit_diagnostics as
select * from (values
    ('bg_nbd', '{bgnbd_status}', {bgnbd_reason}),
    ('gamma_gamma', 'converged', null)
) as fits(model_name, fit_status, degenerate_reason);
"""


def summary_text(warehouse: Path, bgnbd_status: str, bgnbd_reason: str) -> list[str]:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(MARTS.format(bgnbd_status=bgnbd_status, bgnbd_reason=bgnbd_reason))
    ctx = run_context("summary-test", warehouse=warehouse, as_of_date=date(2011, 12, 9))
    return render(ctx, [], warehouse_facts(ctx.engine)).splitlines()


def clv_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "CLV" in line]


@pytest.mark.usefixtures("tierwise_env")
def test_a_degenerate_fit_is_said_in_one_line_with_its_reason(tmp_path: Path) -> None:
    reason = "'a = 4.6e-05 below 0.001: no dropout in the data'"
    lines = clv_lines(summary_text(tmp_path / "w.duckdb", "degenerate", reason))
    assert lines == [
        "  CLV fits: bg_nbd degenerate (a = 4.6e-05 below 0.001: no dropout in the data),"
        " gamma_gamma converged; predicted CLV uses the historic fallback (see marts.clv_fit_diagnostics)"
    ]


@pytest.mark.usefixtures("tierwise_env")
def test_converged_fits_are_said_without_a_fallback(tmp_path: Path) -> None:
    lines = clv_lines(summary_text(tmp_path / "w.duckdb", "converged", "null"))
    assert lines == ["  CLV fits: bg_nbd converged, gamma_gamma converged"]
