"""The real-export examples end to end, each through its one command (``examples/<name>/run.sh``).

Ingest, raw gate, dbt build, marts gate and publish (files) run on the data in ../shared/data;
both gates must pass. The marts are then checked against figures this test computes on its own,
with plain DuckDB SQL on the CSV files: customers, net revenue, orders, ABC classes. The SQL
restates the project's definitions (money in cents, EUR at the seed's or the example's rates,
a purchase is an order with a positive net amount, ABC by cumulative share of the measure).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from tests.support import shared_data

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Example:
    name: str
    data: Path
    root: Path
    output: str

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()


def run_example(name: str, root: Path) -> Example:
    data = shared_data(name)
    if not data.is_dir():
        pytest.skip(f"{data} is absent: the {name} example needs ../shared/data/{name}")
    env = {
        **os.environ,
        "TIERWISE_WAREHOUSE": str(root / "warehouse.duckdb"),
        "TIERWISE_PUBLISH_DIR": str(root / "publish"),
        "TIERWISE_LOG_DIR": str(root / "logs"),
        "TIERWISE_TASK_RETRIES": "0",
    }
    done = subprocess.run(
        [str(REPO / "examples" / name / "run.sh"), str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return Example(name, data, root, done.stdout)


# --- figures computed from the files, without the project's code --------------------------------

ABC_RANK_SQL = """
with positive as (
    select rank() over (order by value desc) as value_rank, count(*) over () as customers
    from per_customer where value > 0
)
select class, count(*) from (
    select case when (value_rank - 1) * 1.0 / customers < 0.05 then 'A'
                when (value_rank - 1) * 1.0 / customers < 0.20 then 'B' else 'C' end as class
    from positive
    union all select 'C' from per_customer where value <= 0
) group by 1 order by 1
"""
ABC_SHARE_SQL = """
with positive as (
    select customer_id, value,
        sum(value) over (order by value desc range between unbounded preceding and current row) as through,
        sum(value) over (partition by value) as tie,
        sum(value) over () as total
    from per_customer where value > 0
)
select class, count(*) from (
    select case when (through - tie) / total < 0.80 then 'A'
                when (through - tie) / total < 0.95 then 'B' else 'C' end as class
    from positive
    union all select 'C' from per_customer where value <= 0
) group by 1 order by 1
"""


def independent(lines_sql: str, params: list[object], abc_sql: str) -> dict[str, object]:
    """Customers, net revenue (EUR), purchases and ABC counts of order lines in EUR cents.

    ``lines_sql`` yields customer_id, order_id, net_eur: one row per order line.
    """
    with duckdb.connect() as con:
        con.execute(f"create temp table lines as {lines_sql}", params)
        con.execute(
            "create temp table per_customer as "
            "select customer_id, sum(net_eur) as value from lines group by 1"
        )
        customers, revenue = con.execute("select count(*), sum(value) from per_customer").fetchone()
        purchases = con.execute(
            "select count(*) from (select customer_id, order_id from lines group by all "
            "having sum(net_eur) > 0)"
        ).fetchone()[0]
        abc = dict(con.execute(abc_sql).fetchall())
        below_zero = con.execute("select count(*) from per_customer where value < 0").fetchone()[0]
    return {
        "customers": customers,
        "revenue": revenue,
        "purchases": purchases,
        "abc": abc,
        "below_zero": below_zero,
    }


def marts_figures(example: Example) -> dict[str, object]:
    customers, revenue, purchases = example.query(
        "select count(*), sum(net_revenue), sum(orders_count) from marts.customer_value"
    )[0]
    abc = dict(example.query("select abc_class, count(*) from marts.customer_tiers group by 1 order by 1"))
    below_zero = example.query("select count(*) from marts.customer_tiers where is_below_zero")[0][0]
    return {
        "customers": customers,
        "revenue": revenue,
        "purchases": purchases,
        "abc": abc,
        "below_zero": below_zero,
    }


# --- Online Retail -------------------------------------------------------------------------------

ONLINE_RETAIL_LINES = """
select customer_id, order_id,
    cast((cast(greatest(q, 0) * p as decimal(18, 2)) - cast(greatest(-q, 0) * p as decimal(18, 2))) * 1.16
        as decimal(18, 2)) as net_eur
from (
    select InvoiceNo as order_id, regexp_replace(CustomerID, '\\.0+$', '') as customer_id,
        cast(Quantity as integer) as q, cast(UnitPrice as decimal(18, 4)) as p
    from read_csv(?, all_varchar = true)
    where CustomerID is not null
)
"""


@pytest.fixture(scope="module")
def online_retail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    yield run_example("online_retail", tmp_path_factory.mktemp("online_retail"))


def test_online_retail_passes_both_gates_and_publishes(online_retail: Example) -> None:
    out = online_retail.output
    assert "raw gate passed" in out and "marts gate passed" in out
    assert "541,909 rows read = 406,829 loaded + 135,080 quarantined" in out
    published = list((online_retail.root / "publish" / "files").rglob("*.csv"))
    assert published, "no CSV published"


def test_online_retail_marts_equal_an_independent_reading(online_retail: Example) -> None:
    # GBP is converted at the seed's rate in force in 2010-2011 (1.16 EUR per GBP), line by line.
    expected = independent(
        ONLINE_RETAIL_LINES, [str(online_retail.data / "online_retail.csv.gz")], ABC_SHARE_SQL
    )
    assert marts_figures(online_retail) == expected
    assert expected["customers"] == 4_372 and isinstance(expected["revenue"], Decimal)
    assert expected["below_zero"] > 0  # refunds of purchases made before the export starts


def test_online_retail_has_a_real_tier_mix(online_retail: Example) -> None:
    tiers = dict(online_retail.query("select tier_code, count(*) from marts.customer_tiers group by 1"))
    assert set(tiers) >= {"platinum", "gold", "silver", "bronze", "unrated"}
    assert tiers["unrated"] < sum(tiers.values()) / 2
    assert "unrated:" in online_retail.output and "eligibility_min_tenure_months" in online_retail.output


def test_online_retail_run_report_shows_the_marts_tier_mix(online_retail: Example) -> None:
    """The run report written on the real export: its tier-mix table holds the marts' counts."""
    (as_of,) = online_retail.query("select max(as_of_date) from marts.customer_tiers")[0]
    reports = online_retail.root / "publish" / "reports"
    page = (reports / f"run-{as_of}.html").read_text(encoding="utf-8")
    assert (reports / "latest.html").read_text(encoding="utf-8") == page
    section = page.split('id="tier-mix"', 1)[1].split("</section>", 1)[0]
    cells = [html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", section)]
    tiers = online_retail.query("select tier_code, count(*) from marts.customer_tiers group by 1")
    assert len(tiers) >= 5
    for tier, customers in tiers:
        row = cells.index(tier)
        assert cells[row + 2] == f"{customers:,}", (tier, cells[row : row + 6])


def test_online_retail_window_covers_the_whole_export(online_retail: Example) -> None:
    assert online_retail.query(
        "select distinct window_start_date::varchar, as_of_date::varchar from marts.customer_value"
    ) == [("2010-12-01", "2011-12-09")]


# --- Olist ---------------------------------------------------------------------------------------

OLIST_LINES = """
with orders as (select * from read_csv($orders, all_varchar = true)),
customers as (select * from read_csv($customers, all_varchar = true)),
items as (
    select order_id, sum(cast(price as decimal(18, 2)) + cast(freight_value as decimal(18, 2))) as amount
    from read_csv($items, all_varchar = true) group by 1
),
payments as (
    select order_id, sum(cast(payment_value as decimal(18, 2))) as paid
    from read_csv($payments, all_varchar = true) group by 1
),
rates as (select * from read_csv($rates, all_varchar = true)),
priced as (
    select customers.customer_unique_id as customer_id, orders.order_id,
        cast(orders.order_purchase_timestamp as date) as ordered_on,
        case when orders.order_status in ('canceled', 'unavailable') then 0
             else cast(coalesce(items.amount, payments.paid) as decimal(18, 2)) end as net
    from orders
    join customers on customers.customer_id = orders.customer_id
    left join items on items.order_id = orders.order_id
    left join payments on payments.order_id = orders.order_id
)
select customer_id, order_id, cast(net * cast(rate_to_eur as decimal(18, 8)) as decimal(18, 2)) as net_eur
from priced
join rates on year(cast(rates.valid_from as date)) = year(priced.ordered_on)
"""


@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    yield run_example("olist", tmp_path_factory.mktemp("olist"))


def test_olist_passes_both_gates_and_accounts_for_every_row(olist: Example) -> None:
    assert "raw gate passed" in olist.output and "marts gate passed" in olist.output
    manifest = olist.query(
        "select file_path, status, rows_read, rows_loaded, rows_quarantined from ops.load_manifest "
        "where is_current order by source, file_path"
    )
    owned = [row for row in manifest if row[1] != "lookup"]
    # Nothing is quarantined: every row of every file is read and used, as plain SQL counts them.
    with duckdb.connect() as con:
        for path, _, read, loaded, quarantined in owned:
            physical = con.execute("select count(*) from read_csv(?, all_varchar = true)", [path]).fetchone()
            assert (read, loaded, quarantined) == (physical[0], physical[0], 0), path
    # Every file of the export is owned by one source and every row of it is used or quarantined.
    assert sorted(path.rsplit("/", 1)[-1] for path, *_ in owned) == sorted(
        f"olist_{name}_dataset.csv.gz"
        for name in ("orders", "customers", "order_items", "order_payments", "order_reviews")
    )
    assert all(read == loaded + quarantined for _, _, read, loaded, quarantined in owned)


def test_olist_marts_equal_an_independent_reading(olist: Example) -> None:
    files = {
        name: str(olist.data / f"olist_{name}_dataset.csv.gz")
        for name in ("orders", "customers", "order_items", "order_payments")
    }
    rates = str(REPO / "examples" / "olist" / "fx_rates.csv")
    sql = OLIST_LINES.replace("$orders", "?", 1)
    for _ in ("customers", "items", "payments", "rates"):
        sql = sql.replace("$" + _, "?", 1)
    params = [files["orders"], files["customers"], files["order_items"], files["order_payments"], rates]
    expected = independent(sql, params, ABC_RANK_SQL)
    assert marts_figures(olist) == expected
    assert expected["customers"] == 8_016


def test_olist_reviews_become_complaints_of_the_person(olist: Example) -> None:
    complaints = olist.query("select sum(complaints_count) from marts.customer_value")[0][0]
    with duckdb.connect() as con:
        scored = con.execute(
            "select count(*) from read_csv(?, all_varchar = true) where cast(review_score as integer) <= 2",
            [str(olist.data / "olist_order_reviews_dataset.csv.gz")],
        ).fetchone()[0]
    # The window covers the whole export: every 1- or 2-star review up to the evaluation counts.
    assert complaints == scored == 3_020
    categories = dict(olist.query("select category, count(*) from raw.tickets group by 1"))
    assert categories == {"complaint": scored, "feedback": 8_225 - scored}


def test_olist_has_a_tier_mix(olist: Example) -> None:
    tiers = dict(olist.query("select tier_code, count(*) from marts.customer_tiers group by 1"))
    assert tiers.get("bronze", 0) > 0 and tiers["unrated"] < sum(tiers.values())
