"""Orders: one record per order (line_no 1), with later versions for refunds and returns.

Customers draw orders in proportion to a heavy-tailed propensity times the time
they are active, and each order's value scales a heavy-tailed per-customer
basket: together they make a small share of customers carry most revenue.
A small share of orders is shipped in parts: the child shipments are separate
records pointing at the parent with ``parent_order_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tierwise_dev.generate import vocab
from tierwise_dev.generate.common import (
    DAY,
    Array,
    Codes,
    Ints,
    Params,
    Rows,
    choose,
    choose_by_group,
    exp_seconds,
    meta_cols,
    rng_for,
    sort_index,
    time_of_day_warp,
)
from tierwise_dev.generate.customers import Customers

COMPLETED, CANCELLED, REFUNDED, PARTIAL = (vocab.ORDER_STATUSES.index(s) for s in vocab.ORDER_STATUSES)
SPLIT_SHARE = 0.03
DISCOUNT_SHARE = 0.28
OTHER_CURRENCY_SHARE = 0.02
MAX_GROSS_CENTS = 25_000_000
REFUND_LAG_MEAN_DAYS = 14.0


@dataclass(frozen=True)
class Orders:
    """Clean order versions plus per-order facts, one entry per order (the numbers are in ``rows``)."""

    rows: Rows
    customer: Ints
    ordered: Ints
    outcome: Codes
    currency: Codes
    latest_net: Ints
    latest_status: Codes

    @property
    def count(self) -> int:
        return len(self.customer)


def _active_window(p: Params, cust: Customers) -> tuple[Ints, Ints]:
    """[lo, hi) in which each customer may order: after the contact exists, before they stop."""
    lo = np.maximum(cust.first_ts + 60, p.start_ts)
    hi = np.minimum(cust.stop_ts, p.end_ts + 1)
    return lo, np.maximum(hi, lo)


def _customer_of_each_order(
    cust: Customers, lo: Ints, hi: Ints, total: int, rng: np.random.Generator
) -> Ints:
    weight = cust.propensity * (hi - lo)
    if total == 0 or weight.sum() <= 0:
        return np.zeros(0, np.int64)
    counts = rng.multinomial(total, weight / weight.sum())
    return np.repeat(np.arange(cust.count, dtype=np.int64), counts)


def _order_times(c: Ints, lo: Ints, hi: Ints, rng: np.random.Generator) -> Ints:
    span = hi[c] - lo[c]
    ts = lo[c] + (rng.random(len(c)) * span).astype(np.int64)
    ts = time_of_day_warp(ts, vocab.HOURLY_PROFILE)
    # The warp may move a boundary-day order outside the window; clamp it back.
    return np.clip(ts, lo[c], np.maximum(hi[c] - 1, lo[c]))


def _currencies(cust: Customers, c: Ints, rng: np.random.Generator) -> Codes:
    """Mostly the customer's home currency; a few orders from foreign shops."""
    currency = cust.currency[c].copy()
    foreign = np.flatnonzero(rng.random(len(c)) < OTHER_CURRENCY_SHARE)
    currency[foreign] = rng.integers(0, len(vocab.CURRENCIES), len(foreign))
    return currency


def _gross(cust: Customers, c: Ints, currency: Codes, rng: np.random.Generator) -> Ints:
    own = cust.currency[c]
    scale = np.array([vocab.CURRENCY_SCALE[k] for k in vocab.CURRENCIES])
    basket = cust.basket_cents[c] * scale[currency] / scale[own]
    gross = np.rint(basket * rng.lognormal(0.0, 0.55, len(c))).astype(np.int64)
    return np.clip(gross, 100, MAX_GROSS_CENTS)


def _discount_rates(n: int, rng: np.random.Generator) -> Ints:
    """Percent off per order, 0 for most."""
    rate = np.zeros(n, np.int64)
    discounted = np.flatnonzero(rng.random(n) < DISCOUNT_SHARE)
    codes = choose(rng, vocab.DISCOUNT_RATE_WEIGHTS, len(discounted))
    rate[discounted] = np.asarray(vocab.DISCOUNT_RATES_PCT, np.int64)[codes]
    return rate


def _base_orders(p: Params, cust: Customers, total: int, rng: np.random.Generator) -> dict[str, Array]:
    lo, hi = _active_window(p, cust)
    c = _customer_of_each_order(cust, lo, hi, total, rng)
    currency = _currencies(cust, c, rng)
    weights = list(vocab.ORDER_OUTCOME_WEIGHTS[s] for s in vocab.ORDER_STATUSES)
    return {
        "cust": c,
        "ordered": _order_times(c, lo, hi, rng),
        "currency": currency,
        "payment": choose_by_group(rng, cust.acct[c], vocab.PAYMENT_WEIGHTS),
        "gross": _gross(cust, c, currency, rng),
        "rate": _discount_rates(len(c), rng),
        "outcome": choose(rng, weights, len(c)),
        "parent": np.full(len(c), -1, np.int64),
    }


def _split(base: dict[str, Array], children: int, rng: np.random.Generator) -> dict[str, Array]:
    """Split some orders into shipments; a parent keeps part of its amount, children the rest."""
    n = len(base["cust"])
    pairs = children // 3
    parents = rng.choice(n, children - pairs, replace=False) if children else np.zeros(0, np.int64)
    parent_of_child = np.concatenate([parents, parents[:pairs]])
    gross = base["gross"].copy()
    keep = np.rint(gross[parents] * rng.uniform(0.35, 0.75, len(parents))).astype(np.int64)
    rest = gross[parents] - keep
    two = np.arange(len(parents)) < pairs
    first_child = np.where(two, rest // 2, rest)
    gross[parents] = keep
    child = {name: values[parent_of_child] for name, values in base.items()}
    child["gross"] = np.concatenate([first_child, rest[:pairs] - rest[:pairs] // 2])
    child["parent"] = parent_of_child
    merged = {name: np.concatenate([values, child[name]]) for name, values in base.items()}
    merged["gross"] = np.concatenate([gross, child["gross"]])
    return merged


def _number(orders: dict[str, Array]) -> dict[str, Array]:
    """Order numbers follow order time, a parent just before its children (arrays keep their order)."""
    perm = sort_index([orders["ordered"]])
    number = np.empty(len(perm), np.int64)
    number[perm] = np.arange(1, len(perm) + 1)
    parent = orders["parent"]
    return orders | {"number": number, "parent": np.where(parent >= 0, number[np.maximum(parent, 0)], 0)}


def _refunds(o: dict[str, Array], rng: np.random.Generator) -> tuple[Ints, Ints]:
    """Refunded cents and version time of the refund / return (0 when there is none)."""
    n = len(o["cust"])
    payable = o["gross"] - o["discount"]
    share = rng.uniform(0.1, 0.6, n)
    partial = np.clip(np.rint(payable * share).astype(np.int64), 1, np.maximum(payable, 1))
    refunded = np.select([o["outcome"] == REFUNDED, o["outcome"] == PARTIAL], [payable, partial], 0)
    lag = DAY + exp_seconds(rng, REFUND_LAG_MEAN_DAYS, n)
    at = np.where(refunded > 0, o["ordered"] + lag, 0)
    return refunded, at


def _rows(o: dict[str, Array], refunded: Ints, late: Ints) -> Rows:
    n = len(o["cust"])
    key = o["number"]
    first_status = np.where(o["outcome"] == CANCELLED, CANCELLED, COMPLETED).astype(np.int8)
    common = {name: o[name] for name in ("ordered", "currency", "gross", "discount", "payment", "parent")}
    v1 = meta_cols(key, o["ordered"]) | common
    v1 |= {"cust": o["cust"] + 1, "status": first_status, "refunded": np.zeros(n, np.int64)}
    later = late > 0
    v2 = {name: values[later] for name, values in v1.items()}
    v2 |= {"updated": late[later], "status": o["outcome"][later], "refunded": refunded[later]}
    return Rows.concat([Rows(v1), Rows(v2)])


def build_orders(p: Params, cust: Customers) -> Orders:
    rng = rng_for(p.seed, "orders")
    children = round(SPLIT_SHARE * p.orders) if p.orders >= 10 else 0
    base = _base_orders(p, cust, p.orders - children, rng)
    o = _number(_split(base, children, rng))
    o["discount"] = (o["gross"] * o["rate"] + 50) // 100
    refunded, late = _refunds(o, rng)
    # Versions after the export window have not happened yet: the order stays as first exported.
    late = np.where(late <= p.end_ts, late, 0)
    shown = late > 0
    net_first = np.where(o["outcome"] == CANCELLED, 0, o["gross"] - o["discount"])
    latest_net = np.where(shown, o["gross"] - o["discount"] - refunded, net_first)
    first_status = np.where(o["outcome"] == CANCELLED, CANCELLED, COMPLETED)
    return Orders(
        rows=_rows(o, refunded, late),
        customer=o["cust"] + 1,
        ordered=o["ordered"],
        outcome=o["outcome"],
        currency=o["currency"],
        latest_net=latest_net,
        latest_status=np.where(shown, o["outcome"], first_status).astype(np.int8),
    )
