"""The CLV maths against the published CDNOW figures.

BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way"; Gamma-Gamma: Fader &
Hardie (2013), "The Gamma-Gamma model of monetary value". The data and the figures are in
``../shared/data/cdnow`` (its README); they stay out of the repository, and these tests skip,
saying so, without them.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import duckdb
import numpy as np
import pandas as pd
import pytest

# The calibration period of the benchmark: the first 39 weeks of 1997 (T = 38.86 for a
# first purchase on 1997-01-01 is 272 days / 7).
CALIBRATION_END = "1997-09-30"
# Published figures (README of the data; the papers above).
BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGNBD_LOG_LIKELIHOOD = -9582.4
EXPECTED_PURCHASES_39 = 1.226  # E[X(39) | x = 2, t_x = 30.43, T = 38.86]
GAMMA_GAMMA_PUBLISHED = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def summary(cdnow: Path) -> pd.DataFrame:
    frame = pd.read_csv(cdnow / "cdnow_customers_summary.csv")
    return frame.rename(columns={"recency": "recency_weeks", "T": "age_weeks"})


@pytest.fixture(scope="module")
def with_spend(cdnow: Path) -> pd.DataFrame:
    return pd.read_csv(cdnow / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def bgnbd_fit(clv: ModuleType, summary: pd.DataFrame) -> dict[str, object]:
    return clv.fit_bgnbd(summary, 20, 2000, CALIBRATION_END)  # type: ignore[no-any-return]


def test_bgnbd_reproduces_the_published_parameters(bgnbd_fit: dict[str, object]) -> None:
    assert bgnbd_fit["fit_status"] == "converged", bgnbd_fit["degenerate_reason"]
    assert bgnbd_fit["n_customers"] == 2357
    fitted = {name: round(float(bgnbd_fit[f"param_{name}"]), 3) for name in BGNBD_PUBLISHED}  # type: ignore[arg-type]
    assert fitted == BGNBD_PUBLISHED
    assert round(float(bgnbd_fit["log_likelihood"]), 1) == BGNBD_LOG_LIKELIHOOD  # type: ignore[arg-type]


def test_bgnbd_conditional_expectation_matches_the_paper(
    scoring: ModuleType, bgnbd_fit: dict[str, object]
) -> None:
    params = {name: float(bgnbd_fit[f"param_{name}"]) for name in BGNBD_PUBLISHED}  # type: ignore[arg-type]
    one = np.array([2.0]), np.array([30.43]), np.array([38.86])
    expected = scoring.expected_purchases(params, *one, 39.0)[0]
    assert round(float(expected), 3) == EXPECTED_PURCHASES_39
    # The published parameters give the published figure too: the formula, not just the fit.
    assert (
        round(float(scoring.expected_purchases(BGNBD_PUBLISHED, *one, 39.0)[0]), 3) == EXPECTED_PURCHASES_39
    )


def test_gamma_gamma_reproduces_the_published_parameters(clv: ModuleType, with_spend: pd.DataFrame) -> None:
    repeaters = with_spend.rename(columns={"x": "frequency", "zbar": "monetary_value"})
    fit = clv.fit_gamma_gamma(repeaters, 20, 2000, CALIBRATION_END)
    assert fit["fit_status"] == "converged", fit["degenerate_reason"]
    assert fit["n_customers"] == 946  # customers with x >= 1
    fitted = {name: float(fit[f"param_{name}"]) for name in GAMMA_GAMMA_PUBLISHED}
    # One unit of the last published digit: on this file (zbar rounded to cents) the maximum is
    # gamma = 15.4477, which the paper prints as 15.44; p and q round to the published values.
    assert fitted == pytest.approx(GAMMA_GAMMA_PUBLISHED, abs=0.01)
    assert round(fitted["p"], 2) == 6.25 and round(fitted["q"], 2) == 3.74
    # And it is the maximum: the published point has a lower likelihood on the same data.
    frequency, monetary = (
        repeaters.loc[repeaters["frequency"] > 0, c].to_numpy(float) for c in ("frequency", "monetary_value")
    )
    at_published = -clv.gamma_gamma_negative_log_likelihood(
        np.log(list(GAMMA_GAMMA_PUBLISHED.values())), frequency, monetary, np.ones_like(frequency)
    )[0]
    assert fit["log_likelihood"] >= at_published


def raw_transactions(cdnow: Path) -> pd.DataFrame:
    """CDNOW_sample.txt: master id, customer id (1..2357), date YYYYMMDD, CDs, dollars."""
    return pd.read_csv(
        cdnow / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "ordered_on", "cds", "dollars"],
        dtype={"master_id": str, "ordered_on": str},
    )


def summarise(transactions: pd.DataFrame, purchase_day: str) -> pd.DataFrame:
    """The purchase summary in plain SQL: the definition of int_customers_summarized.

    purchase_day: the SQL condition on a day's total value that makes it a purchase day.
    Days after the calibration end are not seen (int_orders_converted stops at as_of_date).
    """
    sql = f"""
        with days as (
            select customer_id, strptime(ordered_on, '%Y%m%d')::date as ordered_on,
                   sum(dollars::decimal(18, 2)) as day_value
            from transactions
            where strptime(ordered_on, '%Y%m%d')::date <= date '{CALIBRATION_END}'
            group by all
            having {purchase_day}
        ),
        per_customer as (
            select customer_id, count(*) - 1 as frequency,
                   min(ordered_on) as first_on, max(ordered_on) as last_on,
                   sum(day_value) - min_by(day_value, ordered_on) as repeat_value
            from days
            group by customer_id
        )
        select customer_id, frequency,
               date_diff('day', first_on, last_on) / 7.0 as recency_weeks,
               date_diff('day', first_on, date '{CALIBRATION_END}') / 7.0 as age_weeks,
               case when frequency > 0 then repeat_value::double / frequency else 0 end as monetary_value
        from per_customer
    """
    with duckdb.connect() as con:
        con.register("transactions", transactions)
        return con.execute(sql).df()


def assert_rounds_to(ours: pd.Series, published: pd.Series) -> None:
    """The published column is ours rounded to cents / hundredths of a week (either way at a tie)."""
    difference = (ours.to_numpy(float) - published.to_numpy(float)).round(9)
    assert np.all(np.abs(difference) <= 0.005), published[np.abs(difference) > 0.005]


def test_the_summary_computed_from_raw_transactions_is_the_benchmark_summary(
    cdnow: Path, with_spend: pd.DataFrame
) -> None:
    transactions = raw_transactions(cdnow)
    benchmark = with_spend.rename(columns={"ID": "customer_id"})
    # The benchmark counts every transaction day, $0 days included.
    every_day = summarise(transactions, "true").merge(
        benchmark, on="customer_id", how="outer", indicator=True
    )
    assert len(every_day) == 2357 and set(every_day["_merge"]) == {"both"}
    assert (every_day["frequency"] == every_day["x"]).all()
    assert_rounds_to(every_day["recency_weeks"], every_day["t_x"])
    assert_rounds_to(every_day["age_weeks"], every_day["T"])
    assert_rounds_to(every_day["monetary_value"], every_day["zbar"])


def test_the_project_summary_differs_from_the_benchmark_only_on_zero_value_days(
    cdnow: Path, with_spend: pd.DataFrame
) -> None:
    """The project's purchase day needs positive net revenue: it drops the 8 customers whose one
    transaction in the calibration was worth $0 (x = 0 in the benchmark) and matches every other
    customer exactly, in weeks (days / 7)."""
    transactions = raw_transactions(cdnow)
    benchmark = with_spend.rename(columns={"ID": "customer_id"})
    project = summarise(transactions, "sum(dollars) > 0").merge(benchmark, on="customer_id", how="right")
    dropped = project[project["frequency"].isna()]
    calibration = transactions[transactions["ordered_on"] <= CALIBRATION_END.replace("-", "")]
    zero_only = calibration.groupby("customer_id")["dollars"].sum().loc[lambda total: total == 0].index
    assert sorted(dropped["customer_id"]) == sorted(zero_only) and len(dropped) == 8
    assert (dropped["x"] == 0).all()
    kept = project.dropna(subset=["frequency"])
    assert len(kept) == 2349 and (kept["frequency"] == kept["x"]).all()
    assert_rounds_to(kept["recency_weeks"], kept["t_x"])
    assert_rounds_to(kept["age_weeks"], kept["T"])
    assert_rounds_to(kept["monetary_value"], kept["zbar"])
