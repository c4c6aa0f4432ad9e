"""Predicted customer lifetime value, scored with the fitted CLV models.

Per customer with a purchase (vectorised over all customers):
- probability_alive and expected purchases over the horizon from BG/NBD
  (Fader, Hardie & Lee 2005, eqs. 10 and 11);
- expected spend per purchase from Gamma-Gamma (Fader & Hardie 2013): the
  customer's own mean pulled towards the population mean;
- predicted_clv: margin x expected spend x expected purchases per month,
  discounted monthly at the yearly discount rate over the horizon.

A model scores only when its fit is 'converged' in int_clv_models_fitted (which
excludes degenerate fits). Otherwise the documented fallback applies, and
purchases_basis / spend_basis say which one each number rests on:
- purchases: the customer's own repeat rate, frequency / age_weeks, carried on
  over the horizon with no dropout ('historic_rate'); probability_alive is null,
  since nothing estimates it;
- spend: the customer's own mean repeat spend, the mean over repeat customers for
  those without a repeat ('historic_mean').
"""

from functools import partial

import numpy as np
import pandas as pd
from scipy import special

WEEKS_PER_MONTH = 365.25 / 12 / 7


def fitted_parameters(fits, model_name, names):
    row = fits[fits["model_name"] == model_name]
    if row.empty or not bool(row["is_converged"].iloc[0]):
        return None
    return {name: float(row[f"param_{name}"].iloc[0]) for name in names}


def alive_odds(params, frequency, recency, age):
    """Odds of having dropped out against being alive, by BG/NBD."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    odds = np.zeros_like(frequency)
    repeat = frequency > 0
    log_ratio = (r + frequency[repeat]) * (np.log(alpha + age[repeat]) - np.log(alpha + recency[repeat]))
    odds[repeat] = a / (b + frequency[repeat] - 1) * np.exp(log_ratio)
    return odds


def distinct_pairs(frequency, age):
    """Distinct (frequency, age) pairs and each customer's position among them.

    The Gauss hypergeometric term of BG/NBD depends on these two only, and they
    repeat far more than customers do (ages are whole days): evaluating it once per
    pair makes scoring several times faster. Frequencies are whole numbers and ages
    lie below the largest age + 1, so the key below is one number per pair.
    """
    key = frequency * (np.max(age, initial=0.0) + 1) + age
    _, first, row = np.unique(key, return_index=True, return_inverse=True)
    return frequency[first], age[first], row


def expected_purchases(params, frequency, recency, age, horizon_weeks, pairs=None):
    """Conditional expected purchases in (age, age + horizon] by BG/NBD.

    pairs: distinct_pairs(frequency, age), computed once for all horizons.
    """
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    if horizon_weeks <= 0:
        return np.zeros_like(frequency)
    pair_frequency, pair_age, row = pairs if pairs is not None else distinct_pairs(frequency, age)
    z = horizon_weeks / (alpha + pair_age + horizon_weeks)
    log_shrink = np.log(alpha + pair_age) - np.log(alpha + pair_age + horizon_weeks)
    decay = np.exp((r + pair_frequency) * log_shrink)
    hypergeometric = special.hyp2f1(r + pair_frequency, b + pair_frequency, a + b + pair_frequency - 1, z)
    numerator = (a + b + pair_frequency - 1) / (a - 1) * (1 - decay * hypergeometric)
    return numerator[row] / (1 + alive_odds(params, frequency, recency, age))


def expected_spend(params, frequency, monetary):
    p, q, v = params["p"], params["q"], params["v"]
    return p * (v + frequency * monetary) / (p * frequency + q - 1)


def historic_purchases(frequency, age, weeks):
    """Expected purchases in the next ``weeks`` at the customer's own repeat rate, with no dropout."""
    rate = np.divide(frequency, age, out=np.zeros_like(frequency), where=age > 0)
    return rate * weeks


def historic_spend(frequency, monetary):
    """Own mean repeat spend; the mean over repeat customers for those without a repeat."""
    repeat = frequency > 0
    population = float(np.mean(monetary[repeat])) if repeat.any() else np.nan
    return np.where(repeat, monetary, population)


def purchase_curve(bgnbd, frequency, recency, age):
    """Cumulative expected purchases as a function of weeks ahead, probability alive and the basis.

    BG/NBD when its fit is usable (a = 1 is a pole of its expectation), else the historic rate.
    """
    if bgnbd is not None and abs(bgnbd["a"] - 1) > 1e-9:
        pairs = distinct_pairs(frequency, age)
        alive = 1 / (1 + alive_odds(bgnbd, frequency, recency, age))

        def curve(weeks):
            return expected_purchases(bgnbd, frequency, recency, age, weeks, pairs)

        return curve, alive, "bg_nbd"
    return partial(historic_purchases, frequency, age), np.full(len(frequency), np.nan), "historic_rate"


def spend_estimate(gamma_gamma, frequency, monetary):
    """Expected spend per purchase and its basis: Gamma-Gamma when usable (q > 1: finite mean)."""
    if gamma_gamma is not None and gamma_gamma["q"] > 1:
        return expected_spend(gamma_gamma, frequency, monetary), "gamma_gamma"
    return historic_spend(frequency, monetary), "historic_mean"


def discounted_value(curve, spend, horizon_months, annual_rate, margin):
    """Margin x spend x expected purchases of each month, discounted monthly; 0 where none are expected."""
    monthly_rate = (1 + annual_rate) ** (1 / 12) - 1
    clv = np.zeros(len(spend))
    previous = np.zeros(len(spend))
    for month in range(1, horizon_months + 1):
        cumulative = curve(month * WEEKS_PER_MONTH)
        increment = cumulative - previous
        clv += np.where(increment == 0, 0.0, margin * spend * increment) / (1 + monthly_rate) ** month
        previous = cumulative
    return clv


def score(summary, bgnbd, gamma_gamma, horizon_months, annual_rate, margin):
    """Per customer: probability alive, purchases, spend, CLV, and the basis of purchases and spend."""
    frequency = summary["frequency"].to_numpy(dtype=float)
    recency = summary["recency_weeks"].to_numpy(dtype=float)
    age = summary["age_weeks"].to_numpy(dtype=float)
    monetary = summary["monetary_value"].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        curve, alive, purchases_basis = purchase_curve(bgnbd, frequency, recency, age)
        purchases = curve(horizon_months * WEEKS_PER_MONTH)
        spend, spend_basis = spend_estimate(gamma_gamma, frequency, monetary)
        clv = discounted_value(curve, spend, horizon_months, annual_rate, margin)
    return alive, purchases, spend, clv, (purchases_basis, spend_basis)


def to_pandas(relation, *columns):
    """A pandas frame of dbt.ref(): DuckDB gives a relation (.df()), Spark a DataFrame (.toPandas()).

    Spark's decimals would come back as Python Decimal objects; they are read as doubles, as DuckDB does.
    The same in both CLV models: dbt runs each Python model file alone, so they share no module.
    """
    if hasattr(relation, "toPandas"):
        from pyspark.sql.functions import col
        from pyspark.sql.types import DecimalType

        fields = [field for field in relation.schema.fields if not columns or field.name in columns]
        return relation.select(
            *[
                col(field.name).cast("double") if isinstance(field.dataType, DecimalType) else col(field.name)
                for field in fields
            ]
        ).toPandas()
    return (relation.project(", ".join(columns)) if columns else relation).df()


def model(dbt, session):
    dbt.config(materialized="table")
    horizon_months = int(dbt.config.get("clv_horizon_months"))
    annual_rate = float(dbt.config.get("clv_annual_discount_rate"))
    margin = float(dbt.config.get("clv_margin"))
    summary = to_pandas(dbt.ref("int_customers_summarized"))
    fits = to_pandas(dbt.ref("int_clv_models_fitted"))

    bgnbd = fitted_parameters(fits, "bg_nbd", ("r", "alpha", "a", "b"))
    gamma_gamma = fitted_parameters(fits, "gamma_gamma", ("p", "q", "v"))
    scored = score(summary, bgnbd, gamma_gamma, horizon_months, annual_rate, margin)
    alive, purchases, spend, clv, (purchases_basis, spend_basis) = scored

    frame = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].astype(str),
            "as_of_date": pd.to_datetime(summary["as_of_date"]).dt.date,
            "clv_horizon_months": horizon_months,
            "probability_alive": alive,
            "predicted_purchases": purchases,
            "expected_avg_spend": spend,
            "predicted_clv": clv,
            "purchases_basis": purchases_basis,
            "spend_basis": spend_basis,
        }
    )
    for column in ("probability_alive", "predicted_purchases", "expected_avg_spend", "predicted_clv"):
        frame[column] = frame[column].astype("float64").round(6)
    return frame
