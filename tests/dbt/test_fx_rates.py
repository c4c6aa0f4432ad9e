"""Any currency, converted to EUR: real dbt builds with BRL orders and rates files.

The fixture warehouse gets a few BRL orders (Olist's currency, 2016-2018). The expected EUR
amounts are computed here from the rates file's text with Python's decimal module, not read
back from the model.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from tests.dbt.support import REPO, Build, Workspace, make_workspace
from tests.support import engine_at

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OLIST_RATES = REPO / "examples" / "olist" / "fx_rates.csv"
# Data tests only when all they read is built (the marts are not).
CAUTIOUS = ("--indirect-selection", "cautious", "--exclude-resource-type", "unit_test")
CONVERTED = ("--select", "+int_orders_converted", *CAUTIOUS)
# What the rates feed, rebuilt on top of the first build's staging tables.
RECONVERTED = ("--select", "fx_rates", "int_fx_rates_validated", "int_orders_converted", *CAUTIOUS)

# Olist-like orders: the first and the last day of a yearly rate, a discount, a refund, a
# cancellation (net 0). Columns of raw.orders, then the load metadata.
BRL_ORDERS = """
insert into raw.orders
select
    order_id, 1, customer_id, cast(ordered_at as timestamp), status, 'BRL',
    gross, discount, refunded, 'card', null, cast(ordered_at as timestamp),
    'fixture/olist/orders.csv', row_number() over (order by order_id) + 1, 'fixture-olist',
    date '2018-10-31', timestamp '2018-11-01 00:00:00'
from (values
    ('BR-1', 'C001', '2016-10-04 12:00:00', 'completed', 250.00, 10.00, 0.00),
    ('BR-2', 'C002', '2017-05-20 08:30:00', 'partially_returned', 1234.56, 0.00, 100.00),
    ('BR-3', 'C003', '2017-12-31 23:59:00', 'completed', 99.99, 0.00, 0.00),
    ('BR-4', 'C003', '2018-01-01 00:00:00', 'completed', 4321.10, 21.10, 0.00),
    ('BR-5', 'C004', '2018-03-15 10:00:00', 'cancelled', 80.00, 0.00, 0.00)
) as brl(order_id, customer_id, ordered_at, status, gross, discount, refunded)
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path_factory.mktemp("fx"), BRL_ORDERS)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in engine_at(workspace.warehouse).dbt_env().items():
            patch.setenv(name, value)  # what the transform stage gives its dbt process
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        yield workspace


def told(build: Build) -> str:
    """What a failed build says: its failing nodes, or the hook that stopped it before any node."""
    return "\n".join([*build.failures, str(build.exception or "")])


def rates_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rate_in_force(rates: list[tuple[date, Decimal]], day: date) -> Decimal:
    return max((valid_from, rate) for valid_from, rate in rates if valid_from <= day)[1]


def expected_eur(workspace: Workspace, path: Path, currency: str) -> dict[str, Decimal]:
    """net amount x the file's rate in force on the order day, to the cent, per order."""
    with path.open(newline="", encoding="utf-8") as handle:
        rates = [
            (date.fromisoformat(row["valid_from"]), Decimal(row["rate_to_eur"]))
            for row in csv.DictReader(handle)
            if row["currency"].strip().upper() == currency
        ]
    lines = workspace.query(
        "select order_id, cast(ordered_at as date), status, gross_amount, discount_amount, refunded_amount "
        f"from raw.orders where currency = '{currency}'"
    )
    cent = Decimal("0.01")
    return {
        order_id: (
            Decimal(0) if status == "cancelled" else (gross - discount - refunded) * rate_in_force(rates, day)
        ).quantize(cent, ROUND_HALF_UP)
        for order_id, day, status, gross, discount, refunded in lines
    }


def converted(workspace: Workspace, currency: str) -> dict[str, Decimal]:
    return dict(
        workspace.query(
            "select order_id, net_amount_eur from intermediate.int_orders_converted "
            f"where currency_code = '{currency}'"
        )
    )


def reconvert(workspace: Workspace, rates: Path | None) -> Build:
    """Rebuild what the rates feed, with ``rates`` as var fx_rates_file (none: the seed only)."""
    return workspace.dbt("build", *RECONVERTED, dbt_vars={"fx_rates_file": str(rates) if rates else None})


@pytest.fixture(scope="module")
def olist_build(workspace: Workspace) -> Build:
    return workspace.dbt("build", *CONVERTED, dbt_vars={"fx_rates_file": str(OLIST_RATES)})


def test_brl_converts_with_the_olist_rates_file(workspace: Workspace, olist_build: Build) -> None:
    assert olist_build.success, olist_build.exception or "\n".join(olist_build.failures)
    expected = expected_eur(workspace, OLIST_RATES, "BRL")
    assert len(expected) == 5
    assert converted(workspace, "BRL") == expected
    # The seed's currencies are untouched by a file that does not list them.
    assert workspace.scalar(
        "select count(*) from intermediate.int_fx_rates_validated where rate_source = 'seeds/fx_rates.csv'"
    ) == workspace.scalar("select count(*) from staging.fx_rates")


def test_a_currency_in_the_file_takes_all_its_rates_from_it(
    workspace: Workspace, olist_build: Build, tmp_path: Path
) -> None:
    rates = rates_file(
        tmp_path,
        "rates.csv",
        OLIST_RATES.read_text(encoding="utf-8") + "GBP,2020-01-01,1.25\n gbp ,2024-07-01,1.1875\n",
    )
    build = reconvert(workspace, rates)
    assert build.success, build.exception or "\n".join(build.failures)
    lines = workspace.query(
        "select ordered_on, net_amount, fx_rate_to_eur, net_amount_eur "
        "from intermediate.int_orders_converted where currency_code = 'GBP'"
    )
    assert {day.year for day, *_ in lines} >= {2023, 2024, 2025}  # no seed rate in between
    cent = Decimal("0.01")
    for day, net, rate, eur in lines:
        expected_rate = Decimal("1.25") if day < date(2024, 7, 1) else Decimal("1.1875")
        assert (rate, eur) == (expected_rate, (net * expected_rate).quantize(cent, ROUND_HALF_UP)), day
    assert workspace.query(
        "select distinct rate_source from intermediate.int_fx_rates_validated where currency = 'GBP'"
    ) == [(str(rates),)]
    assert converted(workspace, "BRL") == expected_eur(workspace, OLIST_RATES, "BRL")


def test_a_currency_without_a_rate_fails_naming_it_and_the_day(
    workspace: Workspace, olist_build: Build
) -> None:
    # No rates file: the seed has no BRL at all.
    build = reconvert(workspace, None)
    assert not build.success
    message = "\n".join(build.failures)
    assert "int_orders_converted" in message
    assert "No FX rate in force for BRL on 2016-10-04 (order days without a rate: 5)" in message


def test_an_order_before_the_first_rate_fails(
    workspace: Workspace, olist_build: Build, tmp_path: Path
) -> None:
    rates = rates_file(
        tmp_path, "from_2017.csv", "currency,valid_from,rate_to_eur\nBRL,2017-01-01,0.27736174\n"
    )
    build = reconvert(workspace, rates)
    assert not build.success
    assert "No FX rate in force for BRL on 2016-10-04 (order days without a rate: 1)" in "\n".join(
        build.failures
    )


def test_a_bad_rates_file_fails_before_any_rate_is_read(
    workspace: Workspace, olist_build: Build, tmp_path: Path
) -> None:
    rates = rates_file(
        tmp_path,
        "bad.csv",
        "currency,valid_from,rate_to_eur\n"
        "BRL,2016-01-01,0.25932937\n"
        "\n"
        "EURO,2016-01-01,1\n"  # line 4
        "BRL,2017-01-01,-0.27\n"
        "BRL,2016-01-01,0.26\n"
        "BRL,01.01.2018,0.23\n"
        "USD,2018-01-01,abc\n"
        "EUR,2018-01-01,0.99\n",
    )
    before = workspace.query("select * from intermediate.int_orders_converted order by order_id")
    build = reconvert(workspace, rates)
    assert not build.success
    message = told(build)
    # Checked in on-run-start: the build stops before any node runs.
    assert "Invalid FX rates; nothing that reads a rate was built" in message and not build.failures
    not_iso = "is not an ISO 4217 currency code in current use"
    assert f"{rates} line 4 (EURO from 2016-01-01): currency EURO {not_iso}" in message
    assert f"{rates} line 5 (BRL from 2017-01-01): rate_to_eur must be positive" in message
    assert (
        f"{rates} line 6 (BRL from 2016-01-01): more than one rate for BRL from 2016-01-01 (lines 2, 6)"
        in message
    )
    assert (
        f"{rates} line 7 (BRL from 01.01.2018): valid_from '01.01.2018' is not a date YYYY-MM-DD" in message
    )
    assert f"{rates} line 8 (USD from 2018-01-01): rate_to_eur 'abc' is not a number" in message
    assert f"{rates} line 9 (EUR from 2018-01-01): EUR is the reporting currency" in message
    assert workspace.query("select * from intermediate.int_orders_converted order by order_id") == before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "file not found"),
        ("", "the file is empty"),
        ("currency;valid_from;rate\nBRL;2016-01-01;0.26\n", "missing column rate_to_eur"),
    ],
)
def test_an_unreadable_rates_file_fails_naming_it(
    workspace: Workspace, olist_build: Build, tmp_path: Path, text: str | None, problem: str
) -> None:
    path = tmp_path / "rates.csv" if text is None else rates_file(tmp_path, "rates.csv", text)
    build = workspace.dbt(
        "build", "--select", "int_fx_rates_validated", *CAUTIOUS, dbt_vars={"fx_rates_file": str(path)}
    )
    assert not build.success
    assert f"{path}: {problem}" in told(build)


def test_the_seed_is_checked_too(workspace: Workspace, olist_build: Build) -> None:
    seed = workspace.project / "seeds" / "fx_rates.csv"
    shipped = seed.read_text(encoding="utf-8")
    seed.write_text(shipped + "XYZ,2020-01-01,0.5\nUSD,2025-01-01,0.91\n", encoding="utf-8")
    try:
        build = reconvert(workspace, OLIST_RATES)
    finally:
        seed.write_text(shipped, encoding="utf-8")
    assert not build.success
    message = told(build)
    assert (
        "seeds/fx_rates.csv (XYZ from 2020-01-01): currency XYZ is not an ISO 4217 currency code" in message
    )
    assert "seeds/fx_rates.csv (USD from 2025-01-01): more than one rate for USD from 2025-01-01" in message
