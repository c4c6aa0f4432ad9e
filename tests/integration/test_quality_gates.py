"""Quality gates end to end: real GX, real DuckDB, crafted tables in a temp warehouse.

Each gate runs a handful of times per module (GX is slow to import and to build a context),
and each bad dataset breaks every check of a suite on purpose, in its own rows, so one run
shows that each check fails for the reason intended and nothing else fails.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.support import isolate_tierwise, run_context

from tierwise.exceptions import QualityGateError, ValidationRunError
from tierwise.quality.report import GateReport

REPO = Path(__file__).resolve().parents[2]
AS_OF = date(2024, 5, 26)

RAW_CLEAN = """
create schema if not exists raw;
create or replace table raw.orders as
select
    'O' || lpad(i::varchar, 5, '0') as order_id,
    1 as line_no,
    'C' || lpad((i % 50)::varchar, 4, '0') as customer_id,
    timestamp '2024-05-01' + to_hours(i * 3) as ordered_at,
    case when i % 10 = 0 then 'cancelled' else 'completed' end as status,
    case when i % 3 = 0 then 'GBP' when i % 7 = 0 then 'BRL' else 'EUR' end as currency,
    (50 + i)::decimal(18, 2) as gross_amount,
    5::decimal(18, 2) as discount_amount,
    0::decimal(18, 2) as refunded_amount,
    'card' as payment_method,
    null::varchar as parent_order_id,
    timestamp '2024-05-01' + to_hours(i * 3) as updated_at,
    'orders/orders_' || strftime(ordered_at, '%Y-%m-%d') || '.csv' as _source_file,
    i + 2 as _source_line,
    'checksum' as _file_checksum,
    cast(timestamp '2024-05-01' + to_hours(i * 3) as date) as _file_date,
    timestamp '2024-05-26 06:00:00' as _loaded_at
from range(200) as t(i);

create or replace table raw.contacts as
select
    'C' || lpad(i::varchar, 4, '0') as customer_id,
    'Customer ' || i as customer_name,
    'customer' || i || '@example.com' as email,
    '+49 30 ' || (1000000 + i) as phone,
    'individual' as account_type,
    'retail' as industry,
    'north' as region,
    'DE' as country,
    'active' as status,
    true as is_verified,
    date '2023-01-01' + i::integer as signup_date,
    timestamp '2024-05-20' + to_hours(i) as updated_at,
    false as is_deleted,
    null::varchar as merged_into,
    'contacts/contacts_2024-05-20.csv' as _source_file,
    i + 2 as _source_line,
    'checksum' as _file_checksum,
    cast(timestamp '2024-05-20' + to_hours(i) as date) as _file_date,
    timestamp '2024-05-26 06:00:00' as _loaded_at
from range(50) as t(i);

create or replace table raw.tickets as
select
    'T' || lpad(i::varchar, 4, '0') as ticket_id,
    'C' || lpad((i % 50)::varchar, 4, '0') as customer_id,
    timestamp '2024-05-10' + to_hours(i * 5) as opened_at,
    case when i % 3 = 0 then 'complaint' else 'inquiry' end as category,
    'low' as severity,
    'resolved' as status,
    timestamp '2024-05-10' + to_hours(i * 5 + 2) as resolved_at,
    timestamp '2024-05-10' + to_hours(i * 5 + 2) as updated_at,
    'tickets/tickets_2024-05-10.csv' as _source_file,
    i + 2 as _source_line,
    'checksum' as _file_checksum,
    cast(timestamp '2024-05-10' + to_hours(i * 5 + 2) as date) as _file_date,
    timestamp '2024-05-26 06:00:00' as _loaded_at
from range(30) as t(i);
"""

# Every statement breaks one raw check, in rows of its own (see RAW_BAD_FAILED / _WARNED).
RAW_BAD = """
create schema if not exists ops;
create table ops.quality_results as
select 'earlier-run' as run_id, timestamp '2024-05-01' as validated_at, null::date as as_of_date,
       'raw' as gate, 'raw.orders' as suite, 'orders.volume' as check_name,
       'expect_table_row_count_to_be_between' as expectation_type, null::varchar as column_name,
       'critical' as severity, 'passed' as outcome, true as success, '10000' as observed_value,
       null::bigint as element_count, null::bigint as unexpected_count, null::double as unexpected_percent,
       null::varchar as details;
insert into raw.orders
    select * replace (_source_line + 1000 as _source_line) from raw.orders where order_id = 'O00001';
update raw.orders set status = 'shipped' where order_id = 'O00011';
update raw.orders set currency = 'EURO' where order_id = 'O00012';
update raw.orders set gross_amount = 20000000 where order_id = 'O00013';
update raw.orders set ordered_at = timestamp '1999-12-31' where order_id = 'O00014';
update raw.orders set ordered_at = _file_date + interval 5 day where order_id = 'O00015';
update raw.orders set customer_id = null where order_id = 'O00016';
update raw.orders set payment_method = 'bitcoin' where order_id = 'O00017';
update raw.orders set discount_amount = 500 where order_id = 'O00018';
update raw.orders
    set ordered_at = ordered_at - interval 30 day, updated_at = updated_at - interval 30 day,
        _file_date = _file_date - interval 30 day
    where order_id <> 'O00015';
update raw.contacts set email = 'not-an-email' where customer_id between 'C0000' and 'C0005';
update raw.contacts set phone = '0' where customer_id in ('C0010', 'C0012');
update raw.contacts set status = 'deleted' where customer_id = 'C0011';
update raw.tickets set category = 'praise' where ticket_id = 'T0001';
update raw.tickets set resolved_at = opened_at - interval 1 day where ticket_id = 'T0002';
"""
RAW_BAD_FAILED = {
    ("orders.volume", "expect_table_row_count_to_be_between", None),
    (
        "orders.key_unique_per_file",
        "expect_compound_columns_to_be_unique",
        "_source_file,order_id,line_no,updated_at",
    ),
    ("orders.status_allowed", "expect_column_values_to_be_in_set", "status"),
    ("orders.currency_allowed", "expect_column_values_to_be_in_set", "currency"),
    ("orders.gross_amount_plausible", "expect_column_values_to_be_between", "gross_amount"),
    ("orders.ordered_at_plausible", "expect_column_values_to_be_between", "ordered_at"),
    ("orders.dates_not_after_export", "unexpected_rows_expectation", None),
    ("orders.customer_id_present", "expect_column_values_to_not_be_null", "customer_id"),
    ("orders.fresh", "expect_column_max_to_be_between", "updated_at"),
    ("contacts.email_format_fail", "expect_column_values_to_match_regex", "email"),
    ("contacts.status_allowed", "expect_column_values_to_be_in_set", "status"),
    ("tickets.category_allowed", "expect_column_values_to_be_in_set", "category"),
}
RAW_BAD_WARNED = {
    ("orders.payment_method_allowed", "expect_column_values_to_be_in_set", "payment_method"),
    ("orders.net_amount_not_negative", "unexpected_rows_expectation", None),
    ("contacts.email_format_warn", "expect_column_values_to_match_regex", "email"),
    ("contacts.phone_format_warn", "expect_column_values_to_match_regex", "phone"),
    ("tickets.resolved_after_opened", "unexpected_rows_expectation", None),
}

MARTS_CLEAN = """
create schema if not exists marts;
create schema if not exists intermediate;
create or replace table intermediate.int_orders_converted as
select 'C' || lpad((i % 100)::varchar, 4, '0') as customer_id, (10 + i % 7)::decimal(18, 2) as net_amount_eur
from range(1000) as t(i);
create or replace table marts.customer_value as
select customer_id, date '2024-05-31' as as_of_date, sum(net_amount_eur)::decimal(18, 2) as net_revenue,
       count(*) as orders_count, sum(net_amount_eur)::decimal(18, 2) as historic_clv
from intermediate.int_orders_converted
group by customer_id;
create or replace table marts.customer_tiers as
select customer_id, date '2024-05-31' as as_of_date,
       case when value_rank <= 10 then 'A' when value_rank <= 40 then 'B' else 'C' end as abc_class,
       value_rank > 5 as is_eligible,
       case when value_rank > 5 then (['platinum', 'gold', 'silver', 'bronze'])[1 + value_rank % 4]
            else 'unrated' end as tier_code,
       case when value_rank <= 5 then 'too_new' end as ineligibility_reason
from (select customer_id, row_number() over (order by net_revenue desc, customer_id) as value_rank
      from marts.customer_value) as ranked;
create or replace table marts.clv_fit_diagnostics as
select model_name, date '2024-05-31' as as_of_date, 'converged' as fit_status,
       null::varchar as degenerate_reason, 'CONVERGENCE' as optimizer_message
from (values ('bg_nbd'), ('gamma_gamma')) as models(model_name);
"""
# The BG/NBD fit of Online Retail (issue 15): the optimiser converged, at a limit of the model.
MARTS_DEGENERATE_FIT = """
update marts.clv_fit_diagnostics
    set fit_status = 'degenerate',
        degenerate_reason = 'a = 4.6e-05 below 0.001: no dropout in the data'
    where model_name = 'bg_nbd';
"""
TIER_LADDER_CSV = (
    "tier_code,tier_name,tier_rank\nplatinum,P,4\ngold,G,3\nsilver,S,2\nbronze,B,1\nunrated,U,0\n"
)

MARTS_BAD = """
insert into marts.customer_value (customer_id, as_of_date, net_revenue, orders_count, historic_clv)
    values ('C0001', date '2024-05-31', 5, 1, 5);
update intermediate.int_orders_converted set net_amount_eur = net_amount_eur - 5 where customer_id = 'C0001';
alter table marts.customer_value add column probability_alive double;
update marts.customer_value set probability_alive = 1.5 where customer_id = 'C0002';
update marts.customer_tiers set tier_code = 'diamond' where customer_id = 'C0003';
update marts.customer_tiers set abc_class = 'D' where customer_id = 'C0004';
update marts.customer_tiers set tier_code = null, is_eligible = true where customer_id = 'C0050';
delete from marts.customer_tiers where customer_id = 'C0060';
update marts.customer_tiers set abc_class = 'A' where abc_class = 'B';
"""
MARTS_BAD_FAILED = {
    ("customer_value.customer_id_unique", "expect_column_values_to_be_unique", "customer_id"),
    ("customer_value.revenue_reconciles", "unexpected_rows_expectation", None),
    ("customer_value.clv_in_range", "unexpected_rows_expectation", None),
    ("customer_tiers.tier_code_allowed", "expect_column_values_to_be_in_set", "tier_code"),
    ("customer_tiers.abc_class_allowed", "expect_column_values_to_be_in_set", "abc_class"),
    ("customer_tiers.eligible_tiered", "unexpected_rows_expectation", None),
    ("customer_tiers.every_customer_present", "unexpected_rows_expectation", None),
    ("customer_tiers.a_share_in_bounds", "unexpected_rows_expectation", None),
}


@dataclass
class Run:
    """Outcome of one run_gate call: the report, or the exception it raised."""

    warehouse: Path
    report: GateReport | None = None
    error: Exception | None = None


@pytest.fixture(scope="module")
def quality_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the committed GX project and a dbt seed, with every Tierwise path in a temp dir."""
    root = tmp_path_factory.mktemp("quality")
    expectations = root / "expectations"
    shutil.copytree(REPO / "expectations", expectations, ignore=shutil.ignore_patterns("uncommitted"))
    seeds = root / "dbt_project" / "seeds"
    seeds.mkdir(parents=True)
    (seeds / "tier_ladder.csv").write_text(TIER_LADDER_CSV)
    with pytest.MonkeyPatch.context() as patch:
        isolate_tierwise(root, patch)
        patch.setenv("TIERWISE_EXPECTATIONS_DIR", str(expectations))
        patch.setenv("TIERWISE_DBT_PROJECT_DIR", str(root / "dbt_project"))
        yield root


def _warehouse(root: Path, name: str, *scripts: str) -> Path:
    path = root / f"{name}.duckdb"
    with duckdb.connect(str(path)) as con:
        for script in scripts:
            con.execute(script)
    return path


def _run(gate: str, warehouse: Path, run_id: str) -> Run:
    from tierwise.quality import run_gate

    try:
        return Run(
            warehouse, report=run_gate(run_context(run_id, warehouse=warehouse, as_of_date=AS_OF), gate)
        )
    except (QualityGateError, ValidationRunError) as error:
        return Run(warehouse, error=error)


def _stored(warehouse: Path, run_id: str) -> list[dict[str, object]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(
            "select * from ops.quality_results where run_id = ? order by suite, check_name", [run_id]
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _keys(rows: list[dict[str, object]], outcome: str) -> set[tuple[object, object, object]]:
    """(check, expectation type, column) of the stored results with this outcome."""
    return {
        (r["check_name"], r["expectation_type"], r["column_name"]) for r in rows if r["outcome"] == outcome
    }


@pytest.fixture(scope="module")
def raw_clean(quality_env: Path) -> Run:
    return _run("raw", _warehouse(quality_env, "raw_clean", RAW_CLEAN), "raw-clean")


@pytest.fixture(scope="module")
def raw_tolerated(quality_env: Path, raw_clean: Run) -> Run:
    """Second run on the same warehouse: history exists, and 3 of 50 phones are malformed."""
    with duckdb.connect(str(raw_clean.warehouse)) as con:
        con.execute("update raw.contacts set phone = 'n/a' where customer_id in ('C0001', 'C0002', 'C0003')")
    return _run("raw", raw_clean.warehouse, "raw-tolerated")


@pytest.fixture(scope="module")
def raw_bad(quality_env: Path) -> Run:
    return _run("raw", _warehouse(quality_env, "raw_bad", RAW_CLEAN, RAW_BAD), "raw-bad")


@pytest.fixture(scope="module")
def marts_clean(quality_env: Path) -> Run:
    return _run("marts", _warehouse(quality_env, "marts_clean", MARTS_CLEAN), "marts-clean")


@pytest.fixture(scope="module")
def marts_bad(quality_env: Path) -> Run:
    return _run("marts", _warehouse(quality_env, "marts_bad", MARTS_CLEAN, MARTS_BAD), "marts-bad")


def test_raw_gate_passes_on_clean_data(raw_clean: Run) -> None:
    assert raw_clean.error is None, raw_clean.error
    assert raw_clean.report is not None
    assert raw_clean.report.passed and not raw_clean.report.warnings
    assert raw_clean.report.suites == ("raw.orders", "raw.contacts", "raw.tickets")
    assert raw_clean.report.summary_lines()[0].startswith("raw gate passed")


def test_every_result_is_stored(raw_clean: Run) -> None:
    assert raw_clean.report is not None
    rows = _stored(raw_clean.warehouse, "raw-clean")
    assert len(rows) == len(raw_clean.report.results) > 40
    assert {r["outcome"] for r in rows} == {"passed"}
    volume = next(r for r in rows if r["check_name"] == "orders.volume")
    assert volume["observed_value"] == "200" and volume["gate"] == "raw" and volume["as_of_date"] == AS_OF
    in_set = next(r for r in rows if r["check_name"] == "orders.currency_allowed")
    assert in_set["element_count"] == 200 and in_set["unexpected_percent"] == 0.0


def test_tolerated_dirty_rows_warn_without_gating(raw_tolerated: Run) -> None:
    assert raw_tolerated.error is None, raw_tolerated.error
    assert raw_tolerated.report is not None
    warned = {(r.check, r.column) for r in raw_tolerated.report.warnings}
    assert warned == {("contacts.phone_format_warn", "phone")}
    stored = _stored(raw_tolerated.warehouse, "raw-tolerated")
    row = next(r for r in stored if r["check_name"] == "contacts.phone_format_warn")
    assert (row["success"], row["severity"], row["unexpected_count"]) == (False, "warning", 3)
    assert any("WARNING contacts.phone_format_warn" in line for line in raw_tolerated.report.summary_lines())


def test_raw_gate_fails_each_check_for_its_reason(raw_bad: Run) -> None:
    assert isinstance(raw_bad.error, QualityGateError), raw_bad.error
    rows = _stored(raw_bad.warehouse, "raw-bad")
    assert _keys(rows, "failed") == RAW_BAD_FAILED
    assert _keys(rows, "warned") == RAW_BAD_WARNED
    assert not _keys(rows, "error")


def test_raw_failure_message_names_check_observed_value_and_rows(raw_bad: Run) -> None:
    message = str(raw_bad.error)
    assert "orders.currency_allowed (expect_column_values_to_be_in_set on raw.orders.currency)" in message
    assert '"currency": "EURO"' in message and '"_source_line": 14' in message
    assert "orders.volume" in message and "observed 201" in message
    # Warnings are logged and stored, never part of the gate failure.
    assert "phone_format_warn" not in message


def test_volume_bound_comes_from_the_previous_passed_run(raw_bad: Run) -> None:
    rows = _stored(raw_bad.warehouse, "raw-bad")
    volume = next(r for r in rows if r["check_name"] == "orders.volume")
    assert volume["observed_value"] == "201" and volume["success"] is False


def test_sql_check_failures_carry_sample_rows(raw_bad: Run) -> None:
    rows = _stored(raw_bad.warehouse, "raw-bad")
    late = next(r for r in rows if r["check_name"] == "orders.dates_not_after_export")
    failing = json.loads(str(late["details"]))["failing_rows"]
    assert [row["_source_line"] for row in failing] == [17]


def test_marts_gate_passes_on_clean_data(marts_clean: Run) -> None:
    assert marts_clean.error is None, marts_clean.error
    assert marts_clean.report is not None and marts_clean.report.passed


def test_marts_gate_fails_each_check_for_its_reason(marts_bad: Run) -> None:
    assert isinstance(marts_bad.error, QualityGateError), marts_bad.error
    rows = _stored(marts_bad.warehouse, "marts-bad")
    assert _keys(rows, "failed") == MARTS_BAD_FAILED
    assert not _keys(rows, "warned") and not _keys(rows, "error")
    message = str(marts_bad.error)
    assert '"tier_code": "diamond"' in message and '"probability_alive": 1.5' in message


def test_a_degenerate_clv_fit_warns_without_closing_the_gate(quality_env: Path) -> None:
    warehouse = _warehouse(quality_env, "marts_degenerate", MARTS_CLEAN, MARTS_DEGENERATE_FIT)
    run = _run("marts", warehouse, "marts-degenerate")
    assert run.error is None, run.error
    assert run.report is not None and run.report.passed
    assert {r.check for r in run.report.warnings} == {"customer_value.clv_fits_converged"}
    stored = _stored(warehouse, "marts-degenerate")
    row = next(r for r in stored if r["check_name"] == "customer_value.clv_fits_converged")
    assert (row["outcome"], row["severity"]) == ("warned", "warning")
    failing = json.loads(str(row["details"]))["failing_rows"]
    assert [(f["model_name"], f["fit_status"]) for f in failing] == [("bg_nbd", "degenerate")]
    assert any("no dropout in the data" in line for line in run.report.summary_lines())


def test_exception_inside_gx_is_a_run_error_not_a_verdict(quality_env: Path) -> None:
    warehouse = _warehouse(
        quality_env, "marts_broken", MARTS_CLEAN, "alter table marts.customer_tiers drop column abc_class"
    )
    run = _run("marts", warehouse, "marts-broken")
    assert isinstance(run.error, ValidationRunError)
    assert not isinstance(run.error, QualityGateError)
    assert "abc_class" in str(run.error)
    rows = _stored(warehouse, "marts-broken")
    errors = [r for r in rows if r["outcome"] == "error"]
    assert {r["check_name"] for r in errors} == {
        "customer_tiers.abc_class_allowed",
        "customer_tiers.a_share_in_bounds",
    }
    assert all(r["success"] is None for r in errors)
    # The other expectations still ran and passed on the intact columns.
    assert {r["outcome"] for r in rows} == {"passed", "error"}


def test_missing_table_is_a_run_error(quality_env: Path) -> None:
    warehouse = _warehouse(quality_env, "marts_missing", "create schema marts")
    run = _run("marts", warehouse, "marts-missing")
    assert isinstance(run.error, ValidationRunError)
    assert "marts.customer_value" in str(run.error)
    assert {r["outcome"] for r in _stored(warehouse, "marts-missing")} == {"error"}


def test_data_docs_are_rendered(quality_env: Path, raw_clean: Run, marts_bad: Run) -> None:
    assert raw_clean.report is not None and raw_clean.report.data_docs_path is not None
    site = quality_env / "expectations" / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (site / "index.html").is_file()
    # The offline index links every validation page GX rendered for this run.
    offline = raw_clean.report.data_docs_path
    assert offline == site / "tierwise_index.html" and offline.is_file()
    linked = offline.read_text(encoding="utf-8")
    pages = list((site / "validations").rglob("*.html"))
    assert pages and all(str(page.relative_to(site)) in linked for page in pages)
    assert "Data Docs:" in str(marts_bad.error)


def test_gate_runs_leave_the_committed_project_unchanged(quality_env: Path, raw_clean: Run) -> None:
    committed = REPO / "expectations" / "gx"
    copied = quality_env / "expectations" / "gx"
    for path in [*committed.rglob("*.json"), committed / "great_expectations.yml"]:
        if "uncommitted" not in path.parts:
            assert (copied / path.relative_to(committed)).read_text() == path.read_text(), path


def test_gx_logging_stays_out_of_the_console(quality_env: Path, raw_clean: Run) -> None:
    import logging

    gx_logger = logging.getLogger("great_expectations")
    assert gx_logger.propagate is False and gx_logger.level == logging.WARNING
    assert (quality_env / "logs" / "great_expectations.log").is_file()


ORDERS_ONLY_MANIFEST = """
create schema if not exists ops;
create table ops.load_manifest as select 'orders' as source, 'orders' as entity;
"""


def test_a_shop_without_crm_exports_passes_the_raw_gate_on_its_orders(quality_env: Path) -> None:
    orders_only = RAW_CLEAN.split("create or replace table raw.contacts")[0]
    warehouse = _warehouse(quality_env, "raw_orders_only", orders_only, ORDERS_ONLY_MANIFEST)
    run = _run("raw", warehouse, "raw-orders-only")
    assert run.error is None and run.report is not None
    assert run.report.suites == ("raw.orders",)
    assert any(
        note.startswith("raw.contacts: not validated: no source has loaded") for note in run.report.notes
    )
    assert {r["suite"] for r in _stored(warehouse, "raw-orders-only")} == {"raw.orders"}
    # Once contacts are loaded, they are validated again: an empty contacts table fails.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into ops.load_manifest values ('contacts', 'contacts')")
        con.execute("create table raw.contacts as select * from raw.orders limit 0")
    again = _run("raw", warehouse, "raw-with-contacts")
    assert isinstance(again.error, ValidationRunError) and "raw.contacts" in str(again.error)


def test_a_below_zero_customer_passes_but_a_negative_prediction_fails(quality_env: Path) -> None:
    # Refunds above purchases make realised value negative (is_below_zero); a forecast cannot be.
    below_zero = "update marts.customer_value set historic_clv = -1351.74 where customer_id = 'C0001'"
    warehouse = _warehouse(quality_env, "marts_below_zero", MARTS_CLEAN, below_zero)
    run = _run("marts", warehouse, "marts-below-zero")
    assert run.error is None, run.error
    negative = (
        "alter table marts.customer_value add column predicted_clv double;"
        "update marts.customer_value set predicted_clv = -0.01 where customer_id = 'C0002'"
    )
    with duckdb.connect(str(warehouse)) as con:
        con.execute(negative)
    failed = _run("marts", warehouse, "marts-negative-prediction")
    assert isinstance(failed.error, QualityGateError) and "customer_value.clv_in_range" in str(failed.error)
