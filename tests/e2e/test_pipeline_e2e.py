"""The whole pipeline, run by Airflow itself (`airflow dags test`), on a small generated sample."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from tests.support import isolate_tierwise

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from tierwise_dev.airflow_local import setup_airflow
    from tierwise_dev.demo import run_dag
    from tierwise_dev.generate import generate

    root = tmp_path_factory.mktemp("e2e")
    patch = isolate_tierwise(root)
    generate(root / "data", customers=800, orders=8_000, seed=11, dirty=0.01, end=date(2025, 12, 31))
    log = root / "logs" / "airflow.log"
    setup_airflow(log)
    ok = run_dag(datetime(2026, 1, 5, 6, 0), log)
    yield {"root": root, "ok": ok, "log": log}
    patch.undo()


def _con(run: dict) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(run["root"] / "warehouse" / "tierwise.duckdb"), read_only=True)


def test_dag_run_succeeded(pipeline_run: dict) -> None:
    log = pipeline_run["log"].read_text(encoding="utf-8")
    assert pipeline_run["ok"], log[-4000:]
    assert "Executing on_success dag callback" in log and "Callback failed" not in log
    summary = (pipeline_run["root"] / "logs" / "last_run_summary.txt").read_text(encoding="utf-8")
    assert "evaluation as of 2025-12-31" in summary


def test_the_summarize_task_writes_and_logs_the_run_report(pipeline_run: dict) -> None:
    report = pipeline_run["root"] / "publish" / "reports" / "run-2025-12-31.html"
    log = pipeline_run["log"].read_text(encoding="utf-8")
    assert report.is_file() and (report.parent / "latest.html").read_bytes() == report.read_bytes()
    assert f"run report: {report}" in log
    summary = (pipeline_run["root"] / "logs" / "last_run_summary.txt").read_text(encoding="utf-8")
    assert f"  run report    {report}" in summary and "run report error" not in summary


def test_one_row_and_one_tier_per_customer(pipeline_run: dict) -> None:
    with _con(pipeline_run) as con:
        value_rows, value_customers = con.execute(
            "select count(*), count(distinct customer_id) from marts.customer_value"
        ).fetchone()
        tier_rows, tier_customers, untiered = con.execute(
            "select count(*), count(distinct customer_id), count(*) filter (where tier_code is null) "
            "from marts.customer_tiers"
        ).fetchone()
        staged = con.execute(
            "select count(*) from (select customer_id from staging.stg_crm__contacts "
            "union select customer_id from staging.stg_shop__orders)"
        ).fetchone()[0]
    assert value_rows == value_customers == tier_rows == tier_customers
    assert untiered == 0
    assert value_rows >= 800 * 0.9
    assert value_rows <= staged


def test_revenue_matches_generated_truth(pipeline_run: dict) -> None:
    """Per currency, the marts' net revenue is the generator's truth plus the unknown customers' orders."""
    manifest = json.loads((pipeline_run["root"] / "data" / "manifest.json").read_text())
    unknown = manifest["dirty"]["unknown_customer_net_revenue"]
    expected = {
        currency: float(amount) + float(unknown.get(currency, 0))
        for currency, amount in manifest["truth"]["net_revenue"].items()
    }
    with _con(pipeline_run) as con:
        actual = dict(
            con.execute("select currency_code, sum(net_amount) from marts.orders group by 1").fetchall()
        )
        in_value = con.execute("select sum(net_revenue) from marts.customer_value").fetchone()[0]
        in_orders = con.execute("select sum(net_amount_eur) from marts.orders").fetchone()[0]
    actual = {currency: float(amount) for currency, amount in actual.items()}
    assert actual == pytest.approx(expected, abs=0.01)
    assert float(in_value) == pytest.approx(float(in_orders), abs=0.05)


def test_every_row_read_is_loaded_or_quarantined(pipeline_run: dict) -> None:
    with _con(pipeline_run) as con:
        read, loaded, quarantined = con.execute(
            "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from ops.load_manifest"
        ).fetchone()
    assert read == loaded + quarantined
    assert quarantined > 0


def test_published_csv_matches_the_mart(pipeline_run: dict) -> None:
    csv_path = pipeline_run["root"] / "publish" / "files" / "customer_tiers_latest.csv"
    assert csv_path.exists()
    keys = "customer_id, tier_code, abc_class, cast(measure_value as decimal(18, 2)) as measure_value"
    published = f"select {keys} from read_csv('{csv_path}', header=true)"
    mart = f"select {keys} from marts.customer_tiers"
    with _con(pipeline_run) as con:
        only_csv = con.execute(f"select count(*) from ({published} except all {mart})").fetchone()[0]
        only_mart = con.execute(f"select count(*) from ({mart} except all {published})").fetchone()[0]
        rows = con.execute(f"select count(*) from ({published})").fetchone()[0]
    assert rows > 0
    assert (only_csv, only_mart) == (0, 0)


# Last in the module: these build again in the run's warehouse.
def test_a_rebuild_with_nothing_new_is_skipped(pipeline_run: dict) -> None:
    from tierwise import pipeline

    ctx = pipeline.RunContext.create("e2e_rerun", as_of_date=date(2025, 12, 31))
    result = pipeline.build(ctx)
    assert result.details["skipped"] is True, result.line


def test_a_late_version_before_the_cutoff_forces_a_build(pipeline_run: dict) -> None:
    from tierwise import pipeline

    customer_value = "select net_revenue from marts.customer_value where customer_id = ?"
    with duckdb.connect(str(pipeline_run["root"] / "warehouse" / "tierwise.duckdb")) as con:
        order_id, line_no, customer_id, net_eur = con.execute(
            "select order_id, line_no, customer_id, net_amount_eur from marts.orders "
            "where order_status = 'completed' and currency_code = 'EUR' and net_amount_eur > 0 "
            "and ordered_at < '2025-12-01' order by order_id, line_no limit 1"
        ).fetchone()
        before = con.execute(customer_value, [customer_id]).fetchone()[0]
        con.execute(
            "insert into raw.orders by name select * replace ("
            "'refunded' as status, gross_amount - coalesce(discount_amount, 0) as refunded_amount, "
            "timestamp '2025-12-31 12:00' as updated_at, 'late_refund.csv' as _source_file, "
            "now()::timestamp as _loaded_at) "
            "from raw.orders where order_id = ? and coalesce(line_no, 1) = ? limit 1",
            [order_id, line_no],
        )
    result = pipeline.build(pipeline.RunContext.create("e2e_late", as_of_date=date(2025, 12, 31)))
    assert "skipped" not in result.details, result.line
    with _con(pipeline_run) as con:
        after = con.execute(customer_value, [customer_id]).fetchone()[0]
    assert float(after) == pytest.approx(float(before) - float(net_eur), abs=0.01)


def test_rules_from_the_command_line_change_the_marts_and_are_remembered(
    pipeline_run: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    from tierwise.cli import main

    project = (REPO / "dbt_project" / "dbt_project.yml").read_bytes()
    rule = ["--as-of", "2025-12-31", "--vars", "{abc_method: rank, abc_rank_cutoffs: {a: 0.10, b: 0.30}}"]
    assert main(["build", *rule]) == 0
    with _con(pipeline_run) as con:
        methods = con.execute("select distinct abc_method from marts.customer_tiers").fetchall()
        top, positive = con.execute(
            "select count(*) filter (where abc_class = 'A'), count(*) filter (where measure_value > 0) "
            "from marts.customer_tiers"
        ).fetchone()
    # By rank, A is the top 10 % of the customers with a positive measure (ties share the class).
    assert methods == [("rank",)] and 0.09 * positive <= top <= 0.12 * positive
    assert main(["build", *rule]) == 0
    assert "dbt build skipped" in capsys.readouterr().out
    # Without the vars the project's own rules apply again: a different fingerprint, a new build.
    assert main(["build", "--as-of", "2025-12-31"]) == 0
    assert "dbt build skipped" not in capsys.readouterr().out
    assert (REPO / "dbt_project" / "dbt_project.yml").read_bytes() == project
