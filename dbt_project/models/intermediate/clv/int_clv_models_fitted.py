"""Maximum-likelihood fits of the CLV models on the purchase summary.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
for the number of future purchases and the probability that a customer is
still alive, and Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of
monetary value") for the spend per purchase. Both are fitted by minimising the
published negative log-likelihood over log-parameters (so every parameter
stays positive) with scipy.optimize; identical (frequency, recency, age) rows
are collapsed into weights first. One row per model: parameters,
log-likelihood, AIC, convergence and the number of customers used.

"Converged" is earned, not reported: the optimiser must have converged AND the
optimum must be an estimate rather than a limit of the model. Real exports drive
the likelihood to such limits (Online Retail: a -> 0, nobody ever drops out;
Olist: a, b -> infinity, too few repeat buyers), where the optimiser stops on a
flat likelihood and reports success. Those fits are 'degenerate', with the reason
in degenerate_reason, and int_customers_predicted does not score with them.
"""

import json

import numpy as np
import pandas as pd
from scipy import optimize, special

BGNBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "v")

# The search box, as a factor either side of each parameter's scale (1 for the shape
# parameters; the mean age for alpha, the mean repeat spend for v). Sound fits lie far
# inside it (CDNOW: within 0.1..10); a fit drifting to a limit of the model stops at it.
SEARCH_RANGE = 1e6
# A parameter beyond this factor of its scale is a limit of the model, not an estimate.
SANE_RANGE = 1e3
# A log-parameter whose standard error exceeds log(1000) is not determined by the data:
# one standard error spans more than a factor of 1,000 (CDNOW: at most 0.29).
MAX_LOG_STANDARD_ERROR = float(np.log(1e3))
# What a parameter at a limit means, said in the user's words (a large a or b: a beta
# distribution with no spread; a large r or p: a gamma distribution with no spread).
_SAME_DROPOUT = "the dropout probability is the same for every customer"
LIMIT_MEANINGS = {
    ("bg_nbd", "a", "below"): "no dropout in the data: BG/NBD reduces to NBD and every customer looks alive",
    ("bg_nbd", "a", "above"): _SAME_DROPOUT,
    ("bg_nbd", "b", "above"): _SAME_DROPOUT,
    ("bg_nbd", "r", "below"): "almost no repeat purchases to learn the purchase rate from",
    ("bg_nbd", "r", "above"): "the purchase rate is the same for every customer",
    ("gamma_gamma", "p", "above"): "every customer spends the same at every purchase",
    ("gamma_gamma", "q", "above"): "the spend scale is the same for every customer",
}


def distinct_counts(frequency):
    """Distinct purchase counts and each row's position among them.

    The special functions of the likelihoods (gammaln, betaln, digamma) take a
    customer's count only, and counts repeat: they are evaluated once per distinct
    count (a few dozen) instead of once per row (a BG/NBD fit at 10M orders: 2.6 s -> 2.0 s).
    """
    counts, row = np.unique(frequency, return_inverse=True)
    return counts, row


def bgnbd_negative_log_likelihood(log_params, frequency, recency, age, weights, counts=None):
    """Negative BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6) and its gradient.

    The gradient is analytic, with respect to the log-parameters: L-BFGS-B then needs
    about a fifth of the likelihood evaluations that finite differences take.
    counts: distinct_counts(frequency), computed once per fit.
    """
    r, alpha, a, b = np.exp(log_params)
    levels, row = counts if counts is not None else distinct_counts(frequency)
    base = (
        special.gammaln(r + levels)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + levels)
        - special.betaln(a, b)
    )[row]
    still_alive = -(r + frequency) * np.log(alpha + age)
    repeat = frequency > 0
    dropped = np.full_like(still_alive, -np.inf)
    dropped[repeat] = (
        np.log(a)
        - np.log(b + frequency[repeat] - 1)
        - (r + frequency[repeat]) * np.log(alpha + recency[repeat])
    )
    mixture = np.logaddexp(still_alive, dropped)
    log_likelihood = base + mixture
    # Shares of the two terms of the mixture (they sum to 1 per customer).
    alive_share = np.exp(still_alive - mixture)
    dropped_share = np.exp(dropped - mixture)
    safe_recency = np.where(repeat, recency, age)
    safe_gap = np.where(repeat, b + frequency - 1, 1.0)
    digamma_ab_x = special.digamma(a + b + levels)[row]
    d_r = (
        special.digamma(r + levels)[row]
        - special.digamma(r)
        + np.log(alpha)
        - alive_share * np.log(alpha + age)
        - dropped_share * np.log(alpha + safe_recency)
    )
    d_alpha = (
        r / alpha
        - alive_share * (r + frequency) / (alpha + age)
        - dropped_share * (r + frequency) / (alpha + safe_recency)
    )
    d_a = special.digamma(a + b) - digamma_ab_x + dropped_share / a
    d_b = (
        special.digamma(b + levels)[row]
        - digamma_ab_x
        - special.digamma(b)
        + special.digamma(a + b)
        - dropped_share / safe_gap
    )
    gradient = np.array([r * d_r @ weights, alpha * d_alpha @ weights, a * d_a @ weights, b * d_b @ weights])
    return -np.sum(weights * log_likelihood), -gradient


def gamma_gamma_rows(frequency, monetary):
    """The parameter-free terms of each row of the Gamma-Gamma likelihood: log spend per
    purchase, log purchase count and total spend.

    Computed once per fit instead of in every evaluation: the repeat buyers barely collapse
    (their spend is a continuous amount), so each evaluation works on every one of them.
    The same values as computed inline, so the fit is unchanged to the last bit.
    """
    return np.log(monetary), np.log(frequency), frequency * monetary


def gamma_gamma_negative_log_likelihood(log_params, frequency, monetary, weights, counts=None, rows=None):
    """Negative Gamma-Gamma log-likelihood of the mean spend (Fader & Hardie 2013) and its gradient.

    The gradient is analytic, with respect to the log-parameters, as for BG/NBD.
    counts: distinct_counts(frequency), rows: gamma_gamma_rows(frequency, monetary), each
    computed once per fit.
    """
    p, q, v = np.exp(log_params)
    levels, row = counts if counts is not None else distinct_counts(frequency)
    log_monetary, log_frequency, spend = rows if rows is not None else gamma_gamma_rows(frequency, monetary)
    px = p * frequency
    total = v + spend
    log_total = np.log(total)
    log_likelihood = (
        (special.gammaln(p * levels + q) - special.gammaln(p * levels))[row]
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * log_monetary
        + px * log_frequency
        - (px + q) * log_total
    )
    digamma_pxq = special.digamma(p * levels + q)[row]
    d_p = frequency * (
        digamma_pxq - special.digamma(p * levels)[row] + log_monetary + log_frequency - log_total
    )
    d_q = digamma_pxq - special.digamma(q) + np.log(v) - log_total
    d_v = q / v - (px + q) / total
    gradient = np.array([p * d_p @ weights, q * d_q @ weights, v * d_v @ weights])
    return -np.sum(weights * log_likelihood), -gradient


def collapse(frame, columns):
    """Unique rows of the given columns with their counts as weights."""
    grouped = frame.groupby(list(columns), as_index=False).size()
    arrays = [grouped[column].to_numpy(dtype=float) for column in columns]
    return arrays, grouped["size"].to_numpy(dtype=float)


def search_bounds(scales):
    """The box of the log-parametrised search: SEARCH_RANGE either side of each scale."""
    return [(np.log(scale / SEARCH_RANGE), np.log(scale * SEARCH_RANGE)) for scale in scales]


def minimise(objective, start, args, max_iterations, jac=False, bounds=None):
    """L-BFGS-B on log-parameters; Nelder-Mead when it does not converge.

    jac: the objective returns (value, gradient). bounds: search_bounds(scales).
    """
    with np.errstate(all="ignore"):
        result = optimize.minimize(
            objective,
            start,
            args=args,
            method="L-BFGS-B",
            jac=jac,
            bounds=bounds,
            options={"maxiter": max_iterations},
        )
        if not result.success or not np.isfinite(result.fun):
            value_only = (lambda *call: objective(*call)[0]) if jac else objective
            fallback = optimize.minimize(
                value_only,
                result.x if np.all(np.isfinite(result.x)) else start,
                args=args,
                method="Nelder-Mead",
                bounds=bounds,
                options={"maxiter": max_iterations, "xatol": 1e-8, "fatol": 1e-10},
            )
            if fallback.success or fallback.fun < result.fun:
                result = fallback
    return result


def log_hessian(objective, log_params, args, step=1e-5):
    """Hessian of the negative log-likelihood over log-parameters.

    Central differences of the analytic gradient: 2k gradient evaluations on the
    collapsed rows, a fraction of what the fit itself took.
    """
    columns = []
    for index in range(len(log_params)):
        shift = np.zeros(len(log_params))
        shift[index] = step
        ahead, behind = objective(log_params + shift, *args)[1], objective(log_params - shift, *args)[1]
        columns.append((ahead - behind) / (2 * step))
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2


def limit_reasons(model_name, names, log_params, scales):
    """Parameters beyond SANE_RANGE of their scale: limits of the model, with what they mean."""
    reasons, told = [], set()
    for name, log_value, scale in zip(names, log_params, scales, strict=True):
        relative = float(np.exp(log_value)) / scale
        if 1 / SANE_RANGE <= relative <= SANE_RANGE:
            continue
        side, limit = ("below", scale / SANE_RANGE) if relative < 1 else ("above", scale * SANE_RANGE)
        reason = f"{name} = {float(np.exp(log_value)):.3g} {side} {limit:.3g}"
        if abs(abs(np.log(relative)) - np.log(SEARCH_RANGE)) < 1e-3:
            reason += " (at the bound of the search)"
        meaning = LIMIT_MEANINGS.get((model_name, name, side))
        reasons.append(f"{reason}: {meaning}" if meaning and meaning not in told else reason)
        told.add(meaning)
    return reasons


def identification_reasons(names, hessian):
    """Parameters the likelihood does not pin down: a flat or saddle direction, or a huge standard error."""
    if not np.all(np.isfinite(hessian)):
        return ["the curvature of the likelihood is not finite at the optimum"]
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    if eigenvalues[0] <= 1e-8 * max(abs(eigenvalues[-1]), 1.0):
        flat = [name for name, weight in zip(names, eigenvectors[:, 0], strict=True) if abs(weight) > 0.3]
        them = "them" if len(flat) > 1 else "it"
        return [f"the likelihood is flat along {', '.join(flat)}: the data do not determine {them}"]
    errors = np.sqrt(np.diag(np.linalg.inv(hessian)))
    return [
        f"{name} is not determined by the data (standard error of log {name} = {error:.3g})"
        for name, error in zip(names, errors, strict=True)
        if error > MAX_LOG_STANDARD_ERROR
    ]


def degenerate_reason(model_name, names, scales, objective, log_params, args):
    """Why a converged optimum is not a sound estimate, or None when it is."""
    reasons = limit_reasons(model_name, names, log_params, scales)
    with np.errstate(all="ignore"):
        gradient = objective(log_params, *args)[1]
        if not np.all(np.isfinite(gradient)):
            reasons.append("the gradient of the likelihood is not finite at the optimum")
        else:
            reasons += identification_reasons(names, log_hessian(objective, log_params, args))
    return "; ".join(reasons) or None


def fit_status(result, reason):
    """converged only when the optimiser converged on a finite likelihood and nothing is degenerate."""
    if not (bool(result.success) and np.isfinite(result.fun)):
        return "not_converged"
    return "degenerate" if reason else "converged"


def fit_row(model_name, names, result, n_customers, as_of_date, reason=None, extra=None):
    parameters = dict(zip(names, np.exp(result.x).tolist(), strict=True))
    log_likelihood = -float(result.fun)
    status = fit_status(result, reason)
    row = {
        "as_of_date": as_of_date,
        "model_name": model_name,
        "fit_status": status,
        "is_converged": status == "converged",
        "degenerate_reason": reason if status == "degenerate" else None,
        "n_customers": int(n_customers),
        "parameters_json": json.dumps(parameters, sort_keys=True),
        "log_likelihood": log_likelihood,
        "aic": 2 * len(names) - 2 * log_likelihood,
        "iterations": int(getattr(result, "nit", 0) or 0),
        "optimizer_message": str(result.message),
    }
    row.update({f"param_{name}": value for name, value in parameters.items()})
    row.update(extra or {})
    return row


def skipped_row(model_name, status, n_customers, as_of_date, message):
    return {
        "as_of_date": as_of_date,
        "model_name": model_name,
        "fit_status": status,
        "is_converged": False,
        "degenerate_reason": None,
        "n_customers": int(n_customers),
        "parameters_json": None,
        "log_likelihood": None,
        "aic": None,
        "iterations": 0,
        "optimizer_message": message,
    }


def fit_bgnbd(summary, min_customers, max_iterations, as_of_date):
    if len(summary) < min_customers:
        message = f"{len(summary)} customers with a purchase, at least {min_customers} needed"
        return skipped_row("bg_nbd", "insufficient_data", len(summary), as_of_date, message)
    (frequency, recency, age), weights = collapse(summary, ("frequency", "recency_weeks", "age_weeks"))
    scales = (1.0, max(float(np.average(age, weights=weights)), 1.0), 1.0, 1.0)
    args = (frequency, recency, age, weights, distinct_counts(frequency))
    objective = bgnbd_negative_log_likelihood
    result = minimise(objective, np.log(scales), args, max_iterations, jac=True, bounds=search_bounds(scales))
    reason = degenerate_reason("bg_nbd", BGNBD_PARAMETERS, scales, objective, result.x, args)
    if reason:
        # What the flat likelihood settled on, in the user's terms: ~0 means nobody drops out.
        a, b = np.exp(result.x[2:])
        reason += f"; mean dropout probability per repeat purchase a/(a+b) = {a / (a + b):.3g}"
    return fit_row("bg_nbd", BGNBD_PARAMETERS, result, len(summary), as_of_date, reason)


def fit_gamma_gamma(summary, min_customers, max_iterations, as_of_date):
    repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeaters) < min_customers:
        message = f"{len(repeaters)} repeat customers, at least {min_customers} needed"
        return skipped_row("gamma_gamma", "insufficient_data", len(repeaters), as_of_date, message)
    (frequency, monetary), weights = collapse(repeaters, ("frequency", "monetary_value"))
    scales = (1.0, 1.0, max(float(np.average(monetary, weights=weights)), 1.0))
    start = np.log([1.0, 2.0, scales[2]])
    args = (frequency, monetary, weights, distinct_counts(frequency), gamma_gamma_rows(frequency, monetary))
    objective = gamma_gamma_negative_log_likelihood
    result = minimise(objective, start, args, max_iterations, jac=True, bounds=search_bounds(scales))
    reason = degenerate_reason("gamma_gamma", GAMMA_GAMMA_PARAMETERS, scales, objective, result.x, args)
    # Sorted first: its sums round differently in another row order, and the summary's rows come
    # in whatever order DuckDB's parallel aggregation left them (two builds would disagree).
    ordered = repeaters.sort_values(["frequency", "monetary_value"])
    with np.errstate(all="ignore"):  # no spread in spend (or counts): no correlation, not a warning
        correlation = float(np.corrcoef(ordered["frequency"], ordered["monetary_value"])[0, 1])
    extra = {"frequency_monetary_correlation": correlation if np.isfinite(correlation) else None}
    return fit_row("gamma_gamma", GAMMA_GAMMA_PARAMETERS, result, len(repeaters), as_of_date, reason, extra)


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
    min_customers = int(dbt.config.get("clv_min_customers"))
    max_iterations = int(dbt.config.get("clv_max_iterations"))
    # The numbers only: 800k customer ids as Python strings would cost more than a fit.
    summary = to_pandas(
        dbt.ref("int_customers_summarized"), "frequency", "recency_weeks", "age_weeks", "monetary_value"
    )
    as_of_date = to_pandas(dbt.ref("int_evaluation_dates_resolved"))["as_of_date"].iloc[0]

    rows = [
        fit_bgnbd(summary, min_customers, max_iterations, as_of_date),
        fit_gamma_gamma(summary, min_customers, max_iterations, as_of_date),
    ]
    columns = [
        "as_of_date",
        "model_name",
        "fit_status",
        "is_converged",
        "degenerate_reason",
        "n_customers",
        "parameters_json",
        "log_likelihood",
        "aic",
        "iterations",
        "optimizer_message",
        *[f"param_{name}" for name in BGNBD_PARAMETERS + GAMMA_GAMMA_PARAMETERS],
        "frequency_monetary_correlation",
    ]
    frame = pd.DataFrame(rows).reindex(columns=columns)
    for column in columns[6:]:
        if column not in ("parameters_json", "optimizer_message", "iterations"):
            frame[column] = frame[column].astype("float64")
    frame["iterations"] = frame["iterations"].astype("int64")
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame
