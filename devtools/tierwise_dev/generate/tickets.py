"""Service tickets: complaints, inquiries and return requests about orders.

Tickets attach to orders, weighted by a heavy-tailed per-customer complaint
propensity and boosted for refunded / returned orders, so a few customers file
most complaints. A ticket is exported when opened, again when resolved and
again when closed.
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
    choose_by_group,
    exp_seconds,
    meta_cols,
    rng_for,
    sort_index,
    weighted_index,
)
from tierwise_dev.generate.customers import Customers
from tierwise_dev.generate.orders import PARTIAL, REFUNDED, Orders

TICKETS_PER_ORDER = 0.1
COMPLAINT, INQUIRY, RETURN_REQUEST = (
    vocab.TICKET_CATEGORIES.index(c) for c in ("complaint", "inquiry", "return_request")
)
OPEN, RESOLVED, CLOSED = (vocab.TICKET_STATUSES.index(s) for s in vocab.TICKET_STATUSES)
RESOLVED_SHARE = 0.88
CLOSED_SHARE = 0.65
# Urgent tickets are handled faster (TICKET_SEVERITIES order).
SEVERITY_SPEED = np.array([1.3, 1.0, 0.7, 0.4])


@dataclass(frozen=True)
class Tickets:
    rows: Rows
    count: int


def _pick_orders(orders: Orders, cust: Customers, rng: np.random.Generator) -> Ints:
    total = round(TICKETS_PER_ORDER * orders.count)
    if total == 0:
        return np.zeros(0, np.int64)
    returned = np.isin(orders.outcome, (REFUNDED, PARTIAL))
    weight = (cust.complaint[orders.customer - 1] + 0.05) * np.where(returned, 3.0, 1.0)
    return weighted_index(rng, weight, total)


def _categories(returned: np.ndarray, complaint: np.ndarray, rng: np.random.Generator) -> Codes:
    """Complaint-prone customers complain more; returned orders mostly raise return requests."""
    u = rng.random(len(returned))
    p_complaint = np.where(returned, 0.30, 0.15 + 0.6 * complaint / (complaint + 1.0))
    p_return = np.where(returned, 0.55, 0.05)
    category = np.where(
        u < p_complaint, COMPLAINT, np.where(u < p_complaint + p_return, RETURN_REQUEST, INQUIRY)
    )
    return category.astype(np.int8)


def _lifecycle(opened: Ints, category: Codes, severity: Codes, rng: np.random.Generator) -> tuple[Ints, Ints]:
    """Resolution and closing times (0 = never)."""
    n = len(opened)
    mean = np.asarray(vocab.RESOLVE_DAYS)[category] * SEVERITY_SPEED[severity]
    delay = 1_800 + (rng.exponential(1.0, n) * mean * DAY).astype(np.int64)
    resolved = np.where(rng.random(n) < RESOLVED_SHARE, opened + delay, 0)
    closing = resolved + DAY + exp_seconds(rng, 5.0, n)
    closed = np.where((resolved > 0) & (rng.random(n) < CLOSED_SHARE), closing, 0)
    return resolved, closed


def _rows(p: Params, t: dict[str, Array]) -> Rows:
    n = len(t["opened"])
    key = np.arange(1, n + 1, dtype=np.int64)
    base = meta_cols(key, t["opened"]) | {
        name: t[name] for name in ("cust", "opened", "category", "severity")
    }
    versions = [
        (np.ones(n, bool), t["opened"], OPEN, np.zeros(n, np.int64)),
        ((t["resolved"] > 0) & (t["resolved"] <= p.end_ts), t["resolved"], RESOLVED, t["resolved"]),
        ((t["closed"] > 0) & (t["closed"] <= p.end_ts), t["closed"], CLOSED, t["resolved"]),
    ]
    parts = []
    for shown, updated, status, resolved in versions:
        cols = {name: values[shown] for name, values in base.items()}
        cols |= {"updated": updated[shown], "status": np.full(int(shown.sum()), status, np.int8)}
        cols["resolved"] = resolved[shown]
        parts.append(Rows(cols))
    return Rows.concat(parts)


def build_tickets(p: Params, cust: Customers, orders: Orders) -> Tickets:
    rng = rng_for(p.seed, "tickets")
    pick = _pick_orders(orders, cust, rng)
    opened = orders.ordered[pick] + 600 + exp_seconds(rng, 3.0, len(pick))
    inside = opened <= p.end_ts
    pick, opened = pick[inside], opened[inside]
    returned = np.isin(orders.outcome[pick], (REFUNDED, PARTIAL))
    customer = orders.customer[pick]
    category = _categories(returned, cust.complaint[customer - 1], rng)
    severity = choose_by_group(rng, category, vocab.SEVERITY_WEIGHTS)
    resolved, closed = _lifecycle(opened, category, severity, rng)
    # Ticket numbers follow opening time.
    order = sort_index([opened])
    t = {"cust": customer, "opened": opened, "category": category, "severity": severity}
    t |= {"resolved": resolved, "closed": closed}
    t = {name: values[order] for name, values in t.items()}
    return Tickets(rows=_rows(p, t), count=len(order))
