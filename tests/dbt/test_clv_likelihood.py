"""The CLV models' Python code, outside dbt: gradients, recovery of known parameters, scoring."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from scipy import optimize
from tests.dbt.clv_data import simulate_bgnbd, simulate_gamma_gamma


def assert_gradient_matches(objective, args: tuple, points: list[list[float]]) -> None:
    """The analytic gradient of ``objective`` (over log-parameters) equals finite differences."""
    for point in points:
        log_params = np.log(point)
        analytic = objective(log_params, *args)[1]
        numeric = optimize.approx_fprime(log_params, lambda x: objective(x, *args)[0], 1e-6)
        assert np.allclose(analytic, numeric, rtol=1e-4, atol=1e-2), (point, analytic, numeric)


def test_the_analytic_gradient_matches_finite_differences(clv: ModuleType) -> None:
    frequency, recency, age = simulate_bgnbd(0.8, 4.0, 0.6, 9.0, 2_000)
    args = (frequency, recency, age, np.ones_like(age))
    points = [[0.8, 4.0, 0.6, 9.0], [2.0, 10.0, 0.3, 3.0], [0.2, 1.0, 2.0, 20.0]]
    assert_gradient_matches(clv.bgnbd_negative_log_likelihood, args, points)


def test_the_fit_recovers_simulated_parameters(clv: ModuleType) -> None:
    import pandas as pd

    frequency, recency, age = simulate_bgnbd(0.8, 4.0, 0.6, 9.0, 8_000)
    summary = pd.DataFrame({"frequency": frequency, "recency_weeks": recency, "age_weeks": age})
    row = clv.fit_bgnbd(summary, 20, 2000, "2025-12-31")
    assert row["is_converged"], row["optimizer_message"]
    fitted = [row["param_r"], row["param_alpha"], row["param_a"], row["param_b"]]
    assert fitted == pytest.approx([0.8, 4.0, 0.6, 9.0], rel=0.35)


def test_the_gamma_gamma_gradient_matches_finite_differences(clv: ModuleType) -> None:
    frequency, monetary = simulate_gamma_gamma(6.0, 4.0, 15.0, 2_000)
    args = (frequency, monetary, np.ones_like(frequency))
    points = [[6.0, 4.0, 15.0], [1.0, 2.0, 50.0], [20.0, 1.5, 3.0]]
    assert_gradient_matches(clv.gamma_gamma_negative_log_likelihood, args, points)


def test_the_gamma_gamma_fit_recovers_simulated_parameters(clv: ModuleType) -> None:
    import pandas as pd

    frequency, monetary = simulate_gamma_gamma(6.0, 4.0, 15.0, 20_000)
    summary = pd.DataFrame({"frequency": frequency, "monetary_value": monetary})
    row = clv.fit_gamma_gamma(summary, 20, 2000, "2025-12-31")
    assert row["is_converged"], row["optimizer_message"]
    assert [row["param_p"], row["param_q"], row["param_v"]] == pytest.approx([6.0, 4.0, 15.0], rel=0.25)


def test_expected_purchases_per_distinct_pair_equal_those_per_customer(scoring: ModuleType) -> None:
    frequency, recency, age = simulate_bgnbd(0.8, 4.0, 0.6, 9.0, 3_000)
    age = np.round(age * 7) / 7  # whole days, as the summary has them
    params = {"r": 0.8, "alpha": 4.0, "a": 0.6, "b": 9.0}
    pair_frequency, pair_age, row = scoring.distinct_pairs(frequency, age)
    assert len(pair_frequency) < len(frequency)
    assert np.array_equal(pair_frequency[row], frequency) and np.array_equal(pair_age[row], age)
    together = scoring.expected_purchases(params, frequency, recency, age, 52.0)
    one_by_one = [
        scoring.expected_purchases(params, frequency[i : i + 1], recency[i : i + 1], age[i : i + 1], 52.0)[0]
        for i in range(0, len(frequency), 97)
    ]
    assert together[::97] == pytest.approx(one_by_one, rel=1e-12)


def test_the_gamma_gamma_row_does_not_depend_on_the_order_of_customers(clv: ModuleType) -> None:
    """The summary's rows come in whatever order DuckDB's parallel aggregation left them."""
    import pandas as pd

    frequency, monetary = simulate_gamma_gamma(6.0, 4.0, 15.0, 2_000)
    summary = pd.DataFrame({"frequency": frequency, "monetary_value": monetary})
    rows = [
        clv.fit_gamma_gamma(summary.sample(frac=1, random_state=seed), 20, 2000, "2025-12-31")
        for seed in range(5)
    ]
    assert all(row == rows[0] for row in rows[1:]), [row["frequency_monetary_correlation"] for row in rows]
