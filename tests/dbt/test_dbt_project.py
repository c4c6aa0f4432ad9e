"""The dbt project, built for real on a small fixture warehouse.

One copy of ``dbt_project/`` per module (so tests can edit its seeds), one
DuckDB warehouse loaded from ``fixtures/raw_fixture.sql``, and dbt run
in-process through ``dbtRunner`` the way the pipeline calls it. The first
build is a full ``dbt build`` (seeds, models, data tests, unit tests); later
ones rebuild only what depends on the tier ladder, to keep the module fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.dbt.support import AS_OF, Build, Workspace, make_workspace, release_warehouse
from tests.support import engine_at

LADDER = """tier_code,tier_name,tier_rank,min_value,min_orders
platinum,Platinum,4,5000.00,4
gold,Gold,3,2000.00,3
silver,Silver,2,{silver},2
bronze,Bronze,1,100.00,1
unrated,Unrated,0,0.00,0
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path_factory.mktemp("dbt"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in engine_at(workspace.warehouse).dbt_env().items():
            patch.setenv(name, value)  # what the transform stage gives its dbt process
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        yield workspace


@pytest.fixture(scope="module")
def first_build(workspace: Workspace) -> Build:
    return workspace.dbt("build")


def test_full_build_passes(first_build: Build) -> None:
    assert first_build.exception is None, first_build.exception
    assert first_build.success, "\n".join(first_build.failures)


def test_docs_catalog_covers_every_mart(workspace: Workspace, first_build: Build) -> None:
    """`dbt docs generate` runs, and every mart is in the catalog with its columns documented."""
    docs = workspace.dbt("docs", "generate")
    assert docs.success, docs.exception or docs.failures
    catalog = json.loads((workspace.project / "target" / "catalog.json").read_text())
    manifest = json.loads((workspace.project / "target" / "manifest.json").read_text())
    marts = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    assert len(marts) >= 8
    assert set(marts) <= set(catalog["nodes"]), set(marts) - set(catalog["nodes"])
    for uid, node in marts.items():
        built = {name.lower() for name in catalog["nodes"][uid]["columns"]}
        described = {name.lower() for name, column in node["columns"].items() if column.get("description")}
        assert node.get("description"), uid
        assert built <= described, (uid, built - described)


def test_models_land_in_the_contract_schemas(workspace: Workspace, first_build: Build) -> None:
    schemas = {
        row[0]
        for row in workspace.query(
            "select distinct table_schema from information_schema.tables where table_schema not in ('raw')"
        )
    }
    assert schemas == {"staging", "intermediate", "marts"}


def test_one_row_per_customer_with_a_contact_or_an_order(workspace: Workspace, first_build: Build) -> None:
    # 40 contacts, two merged away (C039 -> C002, C040 -> C039 -> C002), plus X900 with orders only.
    expected = {f"C{number:03d}" for number in range(1, 39)} | {"X900"}
    for mart in ("customers", "customer_value", "customer_tiers"):
        rows = workspace.query(f"select customer_id from marts.{mart}")
        ids = [row[0] for row in rows]
        assert len(ids) == len(set(ids)), mart
        assert set(ids) == expected, mart
    assert workspace.scalar("select count(distinct as_of_date) from marts.customer_tiers") == 1
    assert str(workspace.scalar("select max(as_of_date) from marts.customer_tiers")) == AS_OF


def test_net_revenue_reconciles_with_raw_up_to_as_of_date(workspace: Workspace, first_build: Build) -> None:
    # Recomputed from raw without dbt: the version known at the end of as_of_date of
    # each order line placed by then, net per docs/contracts.md, at the dated fx rate.
    expected = workspace.scalar(
        f"""
        with versions as (
            select *, row_number() over (
                partition by order_id, coalesce(line_no, 1)
                order by coalesce(updated_at, ordered_at) desc, _loaded_at desc
            ) as pick
            from raw.orders
            where coalesce(updated_at, ordered_at) < date '{AS_OF}' + 1 and ordered_at < date '{AS_OF}' + 1
        ),
        rates as (
            select currency, valid_from, rate_to_eur,
                lead(valid_from) over (partition by currency order by valid_from) as valid_to
            from staging.fx_rates
        )
        select sum(cast(
            case when status = 'cancelled' then 0
                else gross_amount - coalesce(discount_amount, 0) - coalesce(refunded_amount, 0) end
            * rates.rate_to_eur as decimal(18, 2)))
        from versions
        join rates on rates.currency = versions.currency
            and cast(ordered_at as date) >= rates.valid_from
            and (rates.valid_to is null or cast(ordered_at as date) < rates.valid_to)
        where pick = 1
        """
    )
    assert workspace.scalar("select sum(net_revenue) from marts.customer_value") == expected
    assert workspace.scalar("select sum(net_amount_eur) from marts.orders") == expected
    # Placed after as_of_date: left out. Refunded after as_of_date: still counted whole.
    assert workspace.scalar("select count(*) from marts.orders where order_id = 'O001-90'") == 0
    assert workspace.scalar("select net_amount from marts.orders where order_id = 'O002-90'") == 800


def test_eligibility_rules_on_the_fixture(workspace: Workspace, first_build: Build) -> None:
    rows = dict(
        workspace.query(
            "select customer_id, coalesce(ineligibility_reason, 'eligible') from marts.customer_tiers "
            "where customer_id in ('C011', 'C030', 'C031', 'C035', 'C036', 'C037', 'C009', 'X900')"
        )
    )
    assert rows == {
        "C011": "eligible",  # suspended only after as_of_date
        "C030": "deleted",
        "C031": "status_not_allowed",
        "C035": "eligible",  # tenure exactly six months
        "C036": "tenure_below_minimum",
        "C037": "excluded_account_type",
        "C009": "not_verified",
        "X900": "no_crm_record",
    }
    assert (
        workspace.scalar(
            "select count(*) from marts.customer_tiers where not is_eligible and tier_code <> 'unrated'"
        )
        == 0
    )


def test_clv_models_are_fitted(workspace: Workspace, first_build: Build) -> None:
    fits = {
        row[0]: row[1:]
        for row in workspace.query(
            "select model_name, fit_status, degenerate_reason, n_customers from marts.clv_fit_diagnostics"
        )
    }
    assert set(fits) == {"bg_nbd", "gamma_gamma"}
    assert all(status == "converged" and reason is None for status, reason, _ in fits.values())
    # Converged fits score every customer with a purchase: no fallback.
    bases = workspace.query("select distinct purchases_basis, spend_basis from marts.customer_value")
    assert set(bases) == {("bg_nbd", "gamma_gamma"), (None, None)}
    assert (
        workspace.scalar(
            "select count(*) from marts.customer_value "
            "where probability_alive not between 0 and 1 or predicted_clv < 0"
        )
        == 0
    )


def test_changed_ladder_threshold_changes_tiers(workspace: Workspace, first_build: Build) -> None:
    before = dict(workspace.query("select customer_id, tier_code from marts.customer_tiers"))
    workspace.write_ladder(LADDER.format(silver="1000.00"))
    rebuilt = workspace.rebuild_tiers()
    assert rebuilt.success, "\n".join(rebuilt.failures)
    after = dict(workspace.query("select customer_id, tier_code from marts.customer_tiers"))
    moved = {customer for customer in before if before[customer] == "silver" and after[customer] == "bronze"}
    assert moved, "raising the silver threshold moved nobody from silver to bronze"
    assert (
        workspace.scalar(
            "select count(*) from marts.customer_tiers where tier_code = 'silver' and measure_value < 1000"
        )
        == 0
    )


def test_bad_ladder_fails_the_build_with_a_message(workspace: Workspace, first_build: Build) -> None:
    workspace.write_ladder(LADDER.format(silver="2500.00"))  # silver above gold
    try:
        broken = workspace.rebuild_tiers()
    finally:
        workspace.write_ladder(LADDER.format(silver="500.00"))
    assert not broken.success
    assert not broken.failures, "the ladder is checked in on-run-start, before any node runs"
    message = str(broken.exception)
    assert "Invalid tier_ladder seed (seeds/tier_ladder.csv)" in message
    assert "thresholds overlap or are out of order" in message
    assert "gold (tier_rank 3, min_value 2000.00) must have a higher min_value than silver" in message


def test_bad_rule_vars_fail_before_anything_is_built(workspace: Workspace, first_build: Build) -> None:
    # Last in the module: other vars make dbt parse the project again.
    from dbt.cli.main import dbtRunner

    bad = {
        "as_of_date": AS_OF,
        "abc_share_cutoffs": {"a": 0.9, "b": 1.2},
        "abc_method": "pareto",
        "spark_table_format": "orc",
    }
    outcome = dbtRunner().invoke(
        [
            "--log-level",
            "none",
            "build",
            "--select",
            "int_evaluation_dates_resolved",
            "--project-dir",
            str(workspace.project),
            "--profiles-dir",
            str(workspace.project),
            "--target-path",
            str(workspace.project / "target"),
            "--vars",
            json.dumps(bad),
        ]
    )
    release_warehouse()
    assert not outcome.success
    message = str(outcome.exception)
    assert "Invalid Tierwise rule configuration" in message
    assert "var abc_share_cutoffs: cut-offs must lie in (0, 1], got a=0.9, b=1.2" in message
    assert "var abc_method: expected share or rank, got pareto" in message
    assert "var spark_table_format: expected parquet, delta or iceberg, got orc" in message
