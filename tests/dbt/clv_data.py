"""Customer summaries drawn from the CLV models' own stories, for the CLV tests."""

from __future__ import annotations

import numpy as np


def simulate_bgnbd(r: float, alpha: float, a: float, b: float, customers: int, seed: int = 7):
    """Customers drawn from the BG/NBD story: Poisson purchases while alive, dropout after each.

    a = 0: nobody ever drops out (the limit a BG/NBD fit cannot estimate).
    """
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 104, customers)
    rates = rng.gamma(r, 1 / alpha, customers)
    dropout = rng.beta(a, b, customers) if a > 0 else np.zeros(customers)
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


def simulate_spend(frequency: np.ndarray, p: float, q: float, v: float, seed: int = 11) -> np.ndarray:
    """Mean spend per purchase from the Gamma-Gamma story: gamma spends around a gamma-drawn scale."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(q, 1 / v, len(frequency))
    repeat = frequency > 0
    monetary = np.zeros(len(frequency))
    monetary[repeat] = rng.gamma(p * frequency[repeat], 1 / nu[repeat]) / frequency[repeat]
    return monetary


def simulate_gamma_gamma(p: float, q: float, v: float, customers: int, seed: int = 11):
    """Repeat customers (1 to 11 repeats) and their mean spend from the Gamma-Gamma story."""
    frequency = np.random.default_rng(seed).integers(1, 12, customers).astype(float)
    return frequency, simulate_spend(frequency, p, q, v, seed)
