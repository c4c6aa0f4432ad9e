"""The run report on small hand-made marts: what is not there yet says so, what fails is shown and told."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.support import run_context

from tierwise.reporting.run_report import latest_path, report_path, write_run_report
from tierwise.summary import write_summary

AS_OF = date(2025, 12, 31)

MARTS = """
create schema marts;
create table marts.customer_tier_history as
select * from (values
    ('C1', date '2025-12-31', date '2025-12-01', 'gold', 3, 900.0, 900.0, 'A', 'share', 'monetary', null),
    ('C2', date '2025-12-31', date '2025-12-01', 'unrated', 0, 50.0, 50.0, 'B', 'share', 'monetary',
     'not_verified'),
    ('C3', date '2025-12-31', date '2025-12-01', 'unrated', 0, 0.0, 0.0, 'C', 'share', 'monetary', null)
) as rows(customer_id, as_of_date, evaluation_month, tier_code, tier_rank, measure_value, window_net_revenue,
          abc_class, abc_method, measure_name, ineligibility_reason);
create table marts.customer_tiers as select * from marts.customer_tier_history;
create table marts.customer_value as select customer_id from marts.customer_tiers;
create table marts.tier_summary as
select evaluation_month, as_of_date, tier_code, max(tier_code) as tier_name, max(tier_rank) as tier_rank,
       count(*) as customers_count, sum(window_net_revenue) as revenue
from marts.customer_tier_history group by all;
create table marts.tier_changes as
select customer_id, as_of_date, 'entry' as change_type from marts.customer_tiers where tier_code = 'gold';
"""


@pytest.fixture
def warehouse(tierwise_env: Path) -> Path:
    path = tierwise_env / "warehouse" / "tierwise.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        con.execute(MARTS)
    return path


def _page(warehouse: Path) -> str:
    result = write_run_report(run_context("report-test", warehouse=warehouse))
    assert result.path is not None
    return result.path.read_text(encoding="utf-8")


def test_one_evaluation_says_what_is_not_there_yet(warehouse: Path) -> None:
    page = _page(warehouse)
    assert "Not yet: no previous evaluation before 2025-12-31 in customer_tier_history" in page
    assert "Not yet: nothing has been ingested into this warehouse" in page
    assert "Not yet: no quality gate has run on this warehouse" in page
    assert "Not yet: nothing has been published from this warehouse" in page
    assert "Not yet: marts.clv_fit_diagnostics has not been built" in page
    assert "Could not be drawn" not in page


def test_report_and_latest_are_at_the_stable_paths(warehouse: Path) -> None:
    ctx = run_context("report-test", warehouse=warehouse)
    result = write_run_report(ctx)
    reports = ctx.settings.publish_dir / "reports"
    assert result.path == report_path(ctx.settings, AS_OF) == reports / "run-2025-12-31.html"
    assert result.latest == latest_path(ctx.settings) == reports / "latest.html"
    assert result.latest.read_bytes() == result.path.read_bytes()
    assert result.size_bytes == len(result.path.read_bytes()) and result.errors == ()


def test_a_failing_section_is_shown_and_told_but_does_not_fail_the_run(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table marts.tier_summary")  # an older build: the tier sections cannot be read
    ctx = run_context("report-test", warehouse=warehouse)
    summary = write_summary(ctx, []).read_text(encoding="utf-8")
    page = report_path(ctx.settings, AS_OF).read_text(encoding="utf-8")
    assert "Could not be drawn: CatalogException" in page and "tier_summary" in page
    assert 'id="eligibility-reasons"' in page and "not_verified" in page  # the other sections still render
    assert f"  run report    {report_path(ctx.settings, AS_OF)}" in summary
    assert "  run report error: Tier mix: CatalogException" in summary


def test_no_warehouse_no_report_and_the_summary_says_so(tierwise_env: Path) -> None:
    summary = write_summary(run_context("report-test"), []).read_text(encoding="utf-8")
    assert "  run report    not written" in summary
    assert "the warehouse does not exist yet" in summary
    assert not (tierwise_env / "publish" / "reports").exists()


def test_a_report_that_cannot_be_written_is_told_in_the_summary(warehouse: Path, tierwise_env: Path) -> None:
    (tierwise_env / "publish").write_text("a file where the publish folder should be", encoding="utf-8")
    summary = write_summary(run_context("report-test", warehouse=warehouse), []).read_text(encoding="utf-8")
    assert "  run report    not written" in summary
    assert "  run report error: not written: " in summary and "Error" in summary
