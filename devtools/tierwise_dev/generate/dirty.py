"""Dirty rows added on top of the clean data, each broken in exactly one way.

Every kind except ``bad_email`` and ``unknown_customer`` breaks a hard rule of
docs/contracts.md, so ingestion quarantines it; those two pass ingestion and are
reported separately. A dirty row is a copy of a random clean row; orders and
tickets get a fresh id (so a broken row never competes with a clean version),
contacts keep the customer id (a contact row without one is meaningless).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tierwise_dev.generate.common import DAY, Ints, Params, Rows, allocate, rng_for

KINDS = (
    "clean",
    "duplicate",
    "null_required",
    "negative_amount",
    "absurd_amount",
    "unknown_customer",
    "future_date",
    "malformed_columns",
    "malformed_amount",
    "malformed_date",
    "bad_email",
)
KIND = {name: code for code, name in enumerate(KINDS)}
DIRTY_KINDS = KINDS[1:]
PASSING_KINDS = ("bad_email", "unknown_customer")
ABSURD_CENTS = 1_000_000_000  # 10,000,000.00: the lowest amount the hard rules reject


@dataclass(frozen=True)
class DirtySpec:
    """Which kinds an entity gets (relative weights) and how its rows are keyed."""

    weights: dict[str, float]
    fresh_keys: bool
    date_column: str


SPECS = {
    "orders": DirtySpec(
        weights={
            "duplicate": 3,
            "null_required": 2,
            "negative_amount": 1,
            "absurd_amount": 1,
            "unknown_customer": 2,
            "future_date": 1,
            "malformed_columns": 1,
            "malformed_amount": 1,
            "malformed_date": 1,
        },
        fresh_keys=True,
        date_column="ordered",
    ),
    "contacts": DirtySpec(
        weights={
            "duplicate": 3,
            "null_required": 2,
            "bad_email": 3,
            "malformed_columns": 1,
            "malformed_date": 1,
        },
        fresh_keys=False,
        date_column="",
    ),
    "tickets": DirtySpec(
        weights={
            "duplicate": 3,
            "null_required": 2,
            "future_date": 1,
            "malformed_columns": 1,
            "malformed_date": 1,
        },
        fresh_keys=True,
        date_column="opened",
    ),
}

Breaker = Callable[[Params, Rows, np.random.Generator], Rows]


def _as_is(p: Params, rows: Rows, rng: np.random.Generator) -> Rows:
    """The defect is applied when rendering (empty field, broken text) or is the copy itself."""
    return rows


def _negative(p: Params, rows: Rows, rng: np.random.Generator) -> Rows:
    which = rows["variant"] % 3
    return rows.with_cols(
        gross=np.where(which == 0, -rows["gross"], rows["gross"]),
        discount=np.where(which == 1, -(rows["discount"] + 100), rows["discount"]),
        refunded=np.where(which == 2, -(rows["refunded"] + 100), rows["refunded"]),
    )


def _absurd(p: Params, rows: Rows, rng: np.random.Generator) -> Rows:
    return rows.with_cols(gross=rng.integers(ABSURD_CENTS, 100 * ABSURD_CENTS, len(rows)))


def _unknown_customer(p: Params, rows: Rows, rng: np.random.Generator) -> Rows:
    # Customer numbers above the contact range never appear in contacts.
    return rows.with_cols(cust=p.customers + 1 + rng.integers(0, p.customers, len(rows)))


def _future(column: str) -> Breaker:
    def breaker(p: Params, rows: Rows, rng: np.random.Generator) -> Rows:
        # At least 3 days after the file's day: clearly beyond "file date + 1 day".
        file_day = rows["updated"] // DAY
        ahead = (file_day + 3 + rng.integers(0, 60, len(rows))) * DAY + rng.integers(0, DAY, len(rows))
        return rows.with_cols(**{column: ahead})

    return breaker


def _breakers(spec: DirtySpec) -> dict[str, Breaker]:
    return {
        "negative_amount": _negative,
        "absurd_amount": _absurd,
        "unknown_customer": _unknown_customer,
        "future_date": _future(spec.date_column),
    }


def _latest_versions(clean: Rows) -> Ints:
    """Row index of the latest version of each key."""
    order = np.lexsort((clean["updated"], clean["key"]))
    keys = clean["key"][order]
    last = np.r_[np.flatnonzero(keys[1:] != keys[:-1]), len(keys) - 1]
    return order[last]


def _bad_emails(p: Params, clean: Rows, count: int, rng: np.random.Generator) -> Rows:
    """A later version of a contact whose e-mail got mistyped; everything else unchanged."""
    latest = _latest_versions(clean)
    room = p.end_ts - clean["updated"][latest]
    # Deleted or merged contacts are no longer edited.
    eligible = latest[(room > 2) & ~clean["deleted"][latest] & (clean["merged"][latest] == 0)]
    pick = np.sort(rng.choice(eligible, min(count, len(eligible)), replace=False))
    rows = clean.take(pick)
    gap = p.end_ts - rows["updated"]
    return rows.with_cols(updated=rows["updated"] + 1 + (rng.random(len(rows)) * (gap - 1)).astype(np.int64))


def _one_kind(p: Params, entity: str, kind: str, clean: Rows, count: int, rng: np.random.Generator) -> Rows:
    if kind == "bad_email":
        rows = _bad_emails(p, clean, count, rng)
    else:
        rows = clean.take(rng.integers(0, len(clean), count))
    n = len(rows)
    rows = rows.with_cols(
        kind=np.full(n, KIND[kind], np.int8),
        variant=rng.integers(0, 1 << 20, n).astype(np.int32),
    )
    return _breakers(SPECS[entity]).get(kind, _as_is)(p, rows, rng)


def _fresh(rows: Rows, first_key: int) -> Rows:
    """New ids for standalone dirty records; they claim no parent order either."""
    rows = rows.with_cols(key=np.arange(first_key, first_key + len(rows), dtype=np.int64))
    return rows.with_cols(parent=np.zeros(len(rows), np.int64)) if "parent" in rows.cols else rows


def add_dirty(p: Params, entity: str, clean: Rows) -> Rows:
    """Clean rows followed by the dirty rows of ``entity`` (share ``p.dirty`` of the clean count)."""
    spec = SPECS[entity]
    total = round(p.dirty * len(clean))
    if total == 0 or len(clean) == 0:
        return clean
    rng = rng_for(p.seed, f"dirty-{entity}")
    parts = [clean]
    next_key = int(clean["key"].max()) + 1
    for kind, count in zip(spec.weights, allocate(total, list(spec.weights.values())), strict=True):
        if count == 0:
            continue
        rows = _one_kind(p, entity, kind, clean, count, rng)
        if spec.fresh_keys and kind != "duplicate":
            rows = _fresh(rows, next_key)
            next_key += len(rows)
        parts.append(rows)
    return Rows.concat(parts)


def kind_counts(rows: Rows) -> dict[str, int]:
    counts = np.bincount(rows["kind"].astype(np.int64), minlength=len(KINDS))
    return {name: int(counts[KIND[name]]) for name in DIRTY_KINDS}
