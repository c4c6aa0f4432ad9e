"""Degenerate CLV fits: flagged with the reason, never reported converged, and scored by the fallback.

The optimiser "converges" on data that sit at a limit of the model (nobody drops out; almost
nobody comes back); int_clv_models_fitted must call those fits degenerate, and
int_customers_predicted must then score with the documented historic fallback.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from tests.dbt.clv_data import simulate_bgnbd, simulate_spend

AS_OF = "2025-12-31"


def never_churning(customers: int) -> pd.DataFrame:
    """Poisson purchases at gamma-distributed rates, every customer alive to the end."""
    frequency, recency, age = simulate_bgnbd(0.8, 4.0, 0.0, 1.0, customers, seed=3)
    return pd.DataFrame({"frequency": frequency, "recency_weeks": recency, "age_weeks": age})


def constant_rate() -> pd.DataFrame:
    """Everyone buys every 4 weeks and is still buying: no dropout, no spread of rates."""
    age = np.arange(20, 120, 0.25)
    frequency = np.floor(age / 4)
    return pd.DataFrame({"frequency": frequency, "recency_weeks": frequency * 4, "age_weeks": age})


def hardly_any_repeats(seed: int = 5) -> pd.DataFrame:
    """2,000 customers, 20 of whom bought once more (the shape of the Olist export)."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(5, 100, 2000)
    frequency, recency = np.zeros(2000), np.zeros(2000)
    frequency[:20] = 1
    recency[:20] = rng.uniform(0, 1, 20) * age[:20]
    return pd.DataFrame({"frequency": frequency, "recency_weeks": recency, "age_weeks": age})


def assert_degenerate(row: dict[str, Any], *words: str) -> None:
    assert row["fit_status"] == "degenerate", (row["fit_status"], row["parameters_json"])
    assert row["is_converged"] is False
    assert row["optimizer_message"]  # the optimiser itself reported success: that is the trap
    for word in words:
        assert word in row["degenerate_reason"], row["degenerate_reason"]


@pytest.mark.parametrize(
    ("summary", "words"),
    [
        (never_churning(400), ("a = ", "below 0.001", "no dropout")),
        (constant_rate(), ("at the bound of the search", "no dropout", "the purchase rate is the same")),
        (hardly_any_repeats(), ("flat along a", "a/(a+b) = ")),
    ],
    ids=["never-churning", "constant-rate", "hardly-any-repeats"],
)
def test_a_fit_at_a_limit_of_bgnbd_is_degenerate(
    clv: ModuleType, summary: pd.DataFrame, words: tuple[str, ...]
) -> None:
    assert_degenerate(clv.fit_bgnbd(summary, 20, 2000, AS_OF), *words)


def test_a_sound_fit_stays_converged_with_no_reason(clv: ModuleType) -> None:
    frequency, recency, age = simulate_bgnbd(0.8, 4.0, 0.6, 9.0, 2_000)
    summary = pd.DataFrame({"frequency": frequency, "recency_weeks": recency, "age_weeks": age})
    row = clv.fit_bgnbd(summary, 20, 2000, AS_OF)
    assert (row["fit_status"], row["is_converged"], row["degenerate_reason"]) == ("converged", True, None)


def test_a_gamma_gamma_fit_without_spread_is_degenerate(clv: ModuleType) -> None:
    # Every repeat customer spends exactly 20 per purchase: no variation to fit a gamma to.
    summary = pd.DataFrame({"frequency": np.tile([1.0, 2.0, 3.0, 4.0], 50), "monetary_value": 20.0})
    row = clv.fit_gamma_gamma(summary, 20, 2000, AS_OF)
    assert_degenerate(row, "every customer spends the same at every purchase", "flat along p, q")


@pytest.fixture(scope="module")
def scored_on_a_degenerate_fit(clv: ModuleType, scoring: ModuleType) -> tuple[pd.DataFrame, tuple[Any, ...]]:
    summary = never_churning(400)
    summary["monetary_value"] = simulate_spend(summary["frequency"].to_numpy(), 6.0, 4.0, 15.0)
    # The rows of int_clv_models_fitted, as int_customers_predicted reads them.
    fits = pd.DataFrame(
        [clv.fit_bgnbd(summary, 20, 2000, AS_OF), clv.fit_gamma_gamma(summary, 20, 2000, AS_OF)]
    )
    bgnbd = scoring.fitted_parameters(fits, "bg_nbd", ("r", "alpha", "a", "b"))
    gamma_gamma = scoring.fitted_parameters(fits, "gamma_gamma", ("p", "q", "v"))
    assert bgnbd is None and gamma_gamma is not None  # a degenerate fit does not score
    return summary, scoring.score(summary, bgnbd, gamma_gamma, 12, 0.10, 0.5)


def test_a_degenerate_bgnbd_falls_back_to_the_historic_rate(
    scoring: ModuleType, scored_on_a_degenerate_fit: tuple[pd.DataFrame, tuple[Any, ...]]
) -> None:
    summary, (alive, purchases, spend, clv_values, basis) = scored_on_a_degenerate_fit
    assert basis == ("historic_rate", "gamma_gamma")
    assert np.isnan(alive).all()  # nothing estimates it: null, not a confident 0.9999994
    rate = summary["frequency"] / summary["age_weeks"]
    horizon_weeks = 12 * 365.25 / 12 / 7
    assert purchases == pytest.approx((rate * horizon_weeks).to_numpy(), rel=1e-12)
    # The same purchases, spread evenly over the 12 months and discounted monthly at 10 % a year.
    monthly = (1.10 ** (1 / 12)) - 1
    discount = sum(1 / (1 + monthly) ** month for month in range(1, 13))
    expected = 0.5 * spend * (rate * horizon_weeks / 12).to_numpy() * discount
    assert clv_values == pytest.approx(expected, rel=1e-9)
    one_timers = summary["frequency"].to_numpy() == 0
    assert one_timers.any() and (clv_values[one_timers] == 0).all()


def test_a_failed_gamma_gamma_falls_back_to_the_historic_mean_spend(scoring: ModuleType) -> None:
    summary = pd.DataFrame(
        {
            "frequency": [0.0, 2.0, 4.0],
            "recency_weeks": [0.0, 10.0, 20.0],
            "age_weeks": [30.0, 30.0, 30.0],
            "monetary_value": [0.0, 40.0, 60.0],
        }
    )
    bgnbd = {"r": 0.8, "alpha": 4.0, "a": 0.6, "b": 9.0}
    alive, _, spend, clv_values, basis = scoring.score(summary, bgnbd, None, 12, 0.10, 1.0)
    assert basis == ("bg_nbd", "historic_mean")
    assert spend.tolist() == [50.0, 40.0, 60.0]  # no repeat yet: the mean over repeat customers
    assert ((alive > 0) & (alive <= 1)).all() and (clv_values > 0).all()


def real_summary(days_sql: str) -> pd.DataFrame:
    """A real export summarised as int_customers_summarized does: purchase days (positive value),
    in weeks up to the export's last day. days_sql: customer_id, ordered_on, day_value per day."""
    sql = f"""
        with days as ({days_sql}),
        as_of as (select max(ordered_on) as as_of_date from days)
        select count(*) - 1 as frequency,
               date_diff('day', min(ordered_on), max(ordered_on)) / 7.0 as recency_weeks,
               date_diff('day', min(ordered_on), any_value(as_of_date)) / 7.0 as age_weeks
        from days cross join as_of
        group by customer_id
    """
    with duckdb.connect() as con:
        return con.execute(sql).df()


def test_the_online_retail_fit_reported_in_issue_15_is_degenerate(
    clv: ModuleType, online_retail: Path
) -> None:
    summary = real_summary(f"""
        select CustomerID as customer_id, InvoiceDate::date as ordered_on,
               sum(Quantity * UnitPrice) as day_value
        from read_csv('{online_retail}/online_retail.csv.gz')
        where CustomerID is not null
        group by all
        having sum(Quantity * UnitPrice) > 0
    """)
    row = clv.fit_bgnbd(summary, 20, 2000, AS_OF)
    assert_degenerate(row, "flat along a")
    assert "a/(a+b) = " in row["degenerate_reason"]


def olist_summary(folder: Path) -> pd.DataFrame:
    """The Olist export per person (customer_unique_id), paid value per purchase day."""
    return real_summary(f"""
        select customers.customer_unique_id as customer_id,
               orders.order_purchase_timestamp::date as ordered_on, sum(payments.payment_value) as day_value
        from read_csv('{folder}/olist_orders_dataset.csv.gz') as orders
        join read_csv('{folder}/olist_customers_dataset.csv.gz') as customers using (customer_id)
        join read_csv('{folder}/olist_order_payments_dataset.csv.gz') as payments using (order_id)
        where orders.order_status not in ('canceled', 'unavailable')
        group by all
        having sum(payments.payment_value) > 0
    """)


def test_the_olist_fit_reported_in_issue_15_is_degenerate(clv: ModuleType, olist: Path) -> None:
    row = clv.fit_bgnbd(olist_summary(olist), 20, 2000, AS_OF)
    assert_degenerate(row, "above 1e+03", "the dropout probability is the same for every customer")
