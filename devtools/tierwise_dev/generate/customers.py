"""CRM contacts: who the customers are and how their record changes over time.

Each customer gets a first version (signup, or the initial load on the start
day for customers who signed up earlier) and possibly later versions:
verification, a status change, deletion or a merge into another contact. The
same event times decide when a customer stops buying.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tierwise_dev.generate import vocab
from tierwise_dev.generate.common import (
    DAY,
    Array,
    Bools,
    Codes,
    Floats,
    Ints,
    Params,
    Rows,
    choose,
    exp_seconds,
    meta_cols,
    rng_for,
    strictly_increasing,
)

NEVER = np.iinfo(np.int64).max // 4
PRE_START_SHARE = 0.35
PRE_START_YEARS = 3
DELETED_SHARE = 0.004
MERGED_SHARE = 0.005
CHURN_MEAN_DAYS = 1_000.0


@dataclass(frozen=True)
class Customers:
    """Per-customer attributes (index i is customer number i + 1) and their contact versions."""

    acct: Codes
    country: Codes
    currency: Codes
    first_ts: Ints
    stop_ts: Ints
    propensity: Floats
    basket_cents: Floats
    complaint: Floats
    contacts: Rows

    @property
    def count(self) -> int:
        return len(self.acct)


@dataclass(frozen=True)
class _Fate:
    """What happens to each customer: final status, verification and event times (NEVER = not)."""

    signup: Ints
    status_code: Codes
    verified: Bools
    merge_to: Ints
    verify: Ints
    status: Ints
    deleted: Ints
    merged: Ints
    churn: Ints


def _signups(p: Params, rng: np.random.Generator) -> Ints:
    """Signup timestamps, sorted so customer numbers follow signup order."""
    n = p.customers
    before = rng.random(n) < PRE_START_SHARE
    back = 1 + (rng.random(n) * PRE_START_YEARS * 365).astype(np.int64)
    # A mild skew towards later days gives a growing customer base.
    ahead = (rng.random(n) ** 0.85 * p.days).astype(np.int64)
    day = np.where(before, p.start_day - back, p.start_day + ahead)
    # Daytime signups (07:00-21:00) leave room for an order a minute later on the same day.
    clock = rng.integers(7 * 3600, 21 * 3600, n)
    return np.sort(day * DAY + clock)


def _first_versions(p: Params, signup: Ints, rng: np.random.Generator) -> Ints:
    """When the first contact version is exported: earlier signups arrive with the initial load."""
    initial_load = p.start_ts + rng.integers(0, 6 * 3600, len(signup))
    return np.where(signup < p.start_ts, initial_load, signup)


def _later(p: Params, first: Ints, rng: np.random.Generator, mask: Bools) -> Ints:
    """Uniform time at least a day after the first version, NEVER outside ``mask``."""
    room = np.maximum(p.end_ts - first - DAY, 1)
    at = first + DAY + (rng.random(len(first)) * room).astype(np.int64)
    return np.where(mask, at, NEVER)


def _fate(p: Params, signup: Ints, first: Ints, acct: Codes, rng: np.random.Generator) -> _Fate:
    n = len(first)
    status = choose(rng, vocab.CONTACT_STATUS_WEIGHTS, n)
    verified = rng.random(n) < np.array([0.45, 0.7, 1.0, 1.0])[acct]
    fate = rng.random(n)
    deleted = fate < DELETED_SHARE
    merged = (fate >= DELETED_SHARE) & (fate < DELETED_SHARE + MERGED_SHARE)
    late_verify = ~verified & (rng.random(n) < 0.6)
    merged_at = _later(p, first, rng, merged)
    deleted_at = _later(p, first, rng, deleted)
    verify_at = np.where(late_verify, first + DAY + exp_seconds(rng, 30.0, n), NEVER)
    status_at = _later(p, first, rng, status != 0)
    # A deleted or merged contact changes no more, and a closed account is not verified afterwards.
    gone = np.minimum(merged_at, deleted_at)
    status_at = np.where(status_at < gone, status_at, NEVER)
    verify_at = np.where(verify_at < np.minimum(status_at, gone), verify_at, NEVER)
    return _Fate(
        signup=signup,
        status_code=status,
        verified=verified,
        merge_to=_merge_targets(merged_at, rng),
        verify=verify_at,
        status=status_at,
        deleted=deleted_at,
        merged=merged_at,
        churn=first + DAY + exp_seconds(rng, CHURN_MEAN_DAYS, n),
    )


def _merge_targets(merged_at: Ints, rng: np.random.Generator) -> Ints:
    """Customer numbers that merged contacts point to (0 = none); never a merged contact itself."""
    merged = merged_at < NEVER
    pool = np.flatnonzero(~merged) + 1
    target = np.zeros(len(merged_at), np.int64)
    if len(pool):
        target[merged] = pool[rng.integers(0, len(pool), int(merged.sum()))]
    return target


def _version_times(p: Params, first: Ints, fate: _Fate) -> tuple[Ints, Ints]:
    """(customer index, updated) of every contact version inside the export window."""
    n = len(first)
    idx = np.tile(np.arange(n, dtype=np.int64), 5)
    ts = np.concatenate([first, fate.verify, fate.status, fate.deleted, fate.merged])
    keep = ts <= p.end_ts
    idx, ts = idx[keep], ts[keep]
    order = np.lexsort((ts, idx))
    idx, ts = idx[order], ts[order]
    ts = strictly_increasing(idx, ts)
    keep = ts <= p.end_ts
    return idx[keep], ts[keep]


def _state_at(fate: _Fate, idx: Ints, ts: Ints) -> dict[str, Array]:
    """State of each contact version at its own time."""
    gone = (fate.deleted[idx] <= ts) | (fate.merged[idx] <= ts)
    changed = fate.status[idx] <= ts
    closed = vocab.CONTACT_STATUSES.index("closed")
    return {
        "status": np.where(gone, closed, np.where(changed, fate.status_code[idx], 0)).astype(np.int8),
        "verified": fate.verified[idx] | (fate.verify[idx] <= ts),
        "deleted": fate.deleted[idx] <= ts,
        "merged": np.where(fate.merged[idx] <= ts, fate.merge_to[idx], 0),
        "signup_day": (fate.signup[idx] // DAY).astype(np.int32),
    }


def _profile(acct: Codes, country: Codes, rng: np.random.Generator) -> dict[str, Array]:
    """Name parts, phone and industry: fixed per customer, repeated on every version."""
    n = len(acct)
    industry = rng.integers(0, vocab.INTERNAL_INDUSTRY, n)
    industry = np.where(acct == vocab.INTERNAL, vocab.INTERNAL_INDUSTRY, industry)
    has_industry = (acct == vocab.BUSINESS) | (acct == vocab.INTERNAL)
    phone = rng.integers(100_000_000, 1_000_000_000, n)
    return {
        "acct": acct,
        "country": country,
        "first": rng.integers(0, len(vocab.FIRST_NAMES), n).astype(np.int16),
        "last": rng.integers(0, len(vocab.LAST_NAMES), n).astype(np.int16),
        "word": rng.integers(0, len(vocab.BUSINESS_WORDS), n).astype(np.int16),
        "domain": rng.integers(0, len(vocab.EMAIL_DOMAINS), n).astype(np.int8),
        "industry": np.where(has_industry, industry, -1).astype(np.int8),
        "phone": np.where(rng.random(n) < 0.85, phone, 0),
    }


def _spend_profile(acct: Codes, currency: Codes, rng: np.random.Generator) -> tuple[Floats, Floats]:
    """Heavy-tailed purchase propensity and typical basket per customer (the Pareto driver)."""
    n = len(acct)
    type_rate = np.array([1.0, 2.5, 0.2, 0.3])[acct]
    type_basket = np.array([1.0, 3.5, 0.3, 0.5])[acct]
    scale = np.array([vocab.CURRENCY_SCALE[c] for c in vocab.CURRENCIES])[currency]
    propensity = rng.lognormal(0.0, 1.05, n) * type_rate
    basket = rng.lognormal(np.log(4_500.0), 0.65, n) * type_basket * scale
    return propensity, basket


def _stop_times(p: Params, fate: _Fate) -> Ints:
    """A customer buys nothing after churning, a status change, deletion or merge."""
    stop = np.minimum.reduce([fate.churn, fate.status, fate.deleted, fate.merged])
    return np.minimum(stop, p.end_ts + 1)


def build_customers(p: Params) -> Customers:
    rng = rng_for(p.seed, "customers")
    signup = _signups(p, rng)
    first = _first_versions(p, signup, rng)
    acct = choose(rng, vocab.ACCOUNT_WEIGHTS, p.customers)
    country = choose(rng, vocab.COUNTRY_WEIGHTS, p.customers)
    currency = np.asarray(vocab.COUNTRY_CURRENCY, np.int8)[country]
    fate = _fate(p, signup, first, acct, rng)
    idx, ts = _version_times(p, first, fate)
    profile = _profile(acct, country, rng)
    cols = meta_cols(idx + 1, ts)
    cols.update({name: values[idx] for name, values in profile.items()})
    cols.update(_state_at(fate, idx, ts))
    propensity, basket = _spend_profile(acct, currency, rng)
    return Customers(
        acct=acct,
        country=country,
        currency=currency,
        first_ts=first,
        stop_ts=_stop_times(p, fate),
        propensity=propensity,
        basket_cents=basket,
        complaint=rng.gamma(0.35, 1.0, p.customers),
        contacts=Rows(cols),
    )
