"""Shared pieces of the generator: parameters, columnar rows, sampling helpers.

All timestamps are naive epoch seconds (int64) and all money is integer cents,
so totals in the manifest are exact and rendering is the only place that turns
numbers into text.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from tierwise.exceptions import ConfigError

DAY = 86_400
EPOCH = date(1970, 1, 1)

Array = npt.NDArray[Any]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]


@dataclass(frozen=True)
class Params:
    """Validated arguments of one generation run."""

    customers: int
    orders: int
    seed: int
    dirty: float
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ConfigError(f"generate: customers must be >= 1, got {self.customers}")
        if self.orders < 0:
            raise ConfigError(f"generate: orders must be >= 0, got {self.orders}")
        if self.seed < 0:
            raise ConfigError(f"generate: seed must be >= 0, got {self.seed}")
        if not 0.0 <= self.dirty <= 1.0:
            raise ConfigError(f"generate: dirty must be within [0, 1], got {self.dirty}")
        if self.end < self.start:
            raise ConfigError(f"generate: end {self.end} is before start {self.start}")

    @property
    def start_day(self) -> int:
        return (self.start - EPOCH).days

    @property
    def end_day(self) -> int:
        return (self.end - EPOCH).days

    @property
    def start_ts(self) -> int:
        return self.start_day * DAY

    @property
    def end_ts(self) -> int:
        """Last second of the end day: nothing is exported after it."""
        return (self.end_day + 1) * DAY - 1

    @property
    def days(self) -> int:
        return self.end_day - self.start_day + 1


def rng_for(seed: int, step: str) -> np.random.Generator:
    """One independent stream per step, so tuning one step never reshuffles the others."""
    return np.random.default_rng([seed, zlib.crc32(step.encode())])


@dataclass(frozen=True)
class Rows:
    """Record versions of one entity as parallel arrays.

    Every entity carries ``key`` (id number), ``updated`` (version, epoch
    seconds; decides the file), ``kind`` (dirty kind code, 0 when clean),
    and ``variant`` (picks how a dirty row is broken).
    """

    cols: dict[str, Array]

    def __len__(self) -> int:
        return len(self.cols["key"])

    def __getitem__(self, name: str) -> Array:
        return self.cols[name]

    def take(self, index: npt.NDArray[np.integer] | Bools) -> Rows:
        return Rows({name: values[index] for name, values in self.cols.items()})

    def with_cols(self, **changes: Array) -> Rows:
        return Rows({**self.cols, **changes})

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        names = list(parts[0].cols)
        return Rows({name: np.concatenate([part.cols[name] for part in parts]) for name in names})


def meta_cols(key: Ints, updated: Ints) -> dict[str, Array]:
    """The bookkeeping columns every clean row starts with."""
    n = len(key)
    return {
        "key": key,
        "updated": updated,
        "kind": np.zeros(n, np.int8),
        "variant": np.zeros(n, np.int32),
    }


def choose(rng: np.random.Generator, weights: Sequence[float], size: int) -> Codes:
    """Category codes drawn with the given relative weights."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    # searchsorted on a uniform draw: the same law as Generator.choice, several times faster.
    return np.searchsorted(cdf[:-1] / cdf[-1], rng.random(size), side="right").astype(np.int8)


def weighted_index(rng: np.random.Generator, weights: Floats, size: int) -> Ints:
    """Indices drawn with replacement, probability proportional to ``weights``."""
    cdf = np.cumsum(weights)
    drawn = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.minimum(drawn, len(weights) - 1).astype(np.int64)


def sort_index(keys: Sequence[npt.NDArray[np.integer]]) -> Ints:
    """Row order by ``keys`` (most significant first), ties by position.

    The keys and the row position are packed into one int64 and sorted by
    value, which is an order of magnitude faster than argsort/lexsort on
    millions of rows; when they do not fit in 63 bits it falls back to lexsort.
    """
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, np.int64)
    shifted = [k.astype(np.int64) - int(k.min()) for k in keys]
    bits = [max(int(k.max()).bit_length(), 1) for k in shifted]
    position_bits = max((n - 1).bit_length(), 1)
    if sum(bits) + position_bits > 63:
        return np.lexsort(tuple(reversed(shifted))).astype(np.int64)
    packed = np.zeros(n, np.int64)
    for key, width in zip(shifted, bits, strict=True):
        packed = (packed << width) | key
    packed = (packed << position_bits) | np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((1 << position_bits) - 1)


def choose_by_group(
    rng: np.random.Generator, groups: npt.NDArray[np.integer], table: Sequence[Sequence[float]]
) -> Codes:
    """Category codes whose weights depend on a small group code (one draw per group, not per row)."""
    out = np.zeros(len(groups), np.int8)
    for group, weights in enumerate(table):
        mask = groups == group
        out[mask] = choose(rng, weights, int(mask.sum()))
    return out


def exp_seconds(rng: np.random.Generator, mean_days: float, size: int) -> Ints:
    """Exponential delays in whole seconds."""
    return (rng.exponential(mean_days * DAY, size)).astype(np.int64)


def time_of_day_warp(ts: Ints, profile: Sequence[float]) -> Ints:
    """Move each timestamp within its day so the hour follows ``profile``.

    The map is monotone inside a day, so the day and the order within a day are
    kept; only the clock time is reshaped. A per-second lookup table is much
    faster than interpolating every row.
    """
    weights = np.asarray(profile, dtype=np.float64)
    cdf = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    hours = np.arange(len(weights) + 1) * (DAY / len(weights))
    table = np.interp(np.arange(DAY) / DAY, cdf, hours).astype(np.int64).clip(0, DAY - 1)
    clock = ts % DAY
    return ts - clock + table[clock]


def strictly_increasing(group: Ints, ts: Ints) -> Ints:
    """Bump timestamps so they increase strictly inside each group.

    ``group`` must be sorted and ``ts`` sorted within each group. Two versions
    of one key must never share an ``updated_at``, otherwise "latest wins" is
    ambiguous downstream.
    """
    if len(ts) == 0:
        return ts
    position = np.arange(len(ts), dtype=np.int64)
    span = int(ts.max() - ts.min()) + len(ts) + 1
    shifted = ts - ts.min() - position + group * span
    shifted = np.maximum.accumulate(shifted)
    return shifted - group * span + position + ts.min()


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` by weights with the largest-remainder rule (exact, deterministic)."""
    w = np.asarray(weights, dtype=np.float64)
    if total <= 0 or w.sum() <= 0:
        return [0] * len(w)
    raw = total * w / w.sum()
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return [int(c) for c in counts]


def id_width(count: int, minimum: int) -> int:
    """Digits of zero-padded ids, with room for the extra ids dirty rows take."""
    return max(minimum, len(str(2 * count + 10)))
