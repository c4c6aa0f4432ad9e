"""The CLV models' Python code, outside dbt: gradients, recovery of known parameters, scoring."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy import optimize

MODELS = Path(__file__).resolve().parents[2] / "dbt_project/models/intermediate/clv"


def load_model(name: str) -> ModuleType:
    """A dbt Python model's file as a module (dbt-duckdb runs it the same way)."""
    spec = importlib.util.spec_from_file_location(name, MODELS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def clv() -> ModuleType:
    return load_model("int_clv_models_fitted")


def simulate_bgnbd(r: float, alpha: float, a: float, b: float, customers: int, seed: int = 7):
    """Customers drawn from the BG/NBD story: Poisson purchases while alive, dropout after each."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 104, customers)
    rates = rng.gamma(r, 1 / alpha, customers)
    dropout = rng.beta(a, b, customers)
    frequency, recency = np.zeros(customers), np.zeros(customers)
    for i in range(customers):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > age[i]:
                break
            frequency[i] += 1
            recency[i] = t
            if rng.random() < dropout[i]:
                break
    return frequency, recency, age


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


def simulate_gamma_gamma(p: float, q: float, v: float, customers: int, seed: int = 11):
    """Mean spend of repeat customers from the Gamma-Gamma story: gamma spends around a gamma-drawn scale."""
    rng = np.random.default_rng(seed)
    frequency = rng.integers(1, 12, customers).astype(float)
    nu = rng.gamma(q, 1 / v, customers)
    monetary = rng.gamma(p * frequency, 1 / nu) / frequency
    return frequency, monetary


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


@pytest.fixture(scope="module")
def scoring() -> ModuleType:
    return load_model("int_customers_predicted")


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
