"""The manifest: parameters, counts and the truth a pipeline run must reconcile to.

Money is summed as integer cents and written as strings with two decimals, so
the truth is exact and compares equal to a DECIMAL sum in the warehouse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tierwise_dev.generate import vocab
from tierwise_dev.generate.common import Params, Rows
from tierwise_dev.generate.dirty import KIND, PASSING_KINDS, kind_counts
from tierwise_dev.generate.orders import CANCELLED, Orders

FORMAT_VERSION = 1


def cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _by_currency(currency: np.ndarray, cents: np.ndarray) -> dict[str, str]:
    return {code: cents_text(int(cents[currency == i].sum())) for i, code in enumerate(vocab.CURRENCIES)}


def _count_by(codes: np.ndarray, values: tuple[str, ...]) -> dict[str, int]:
    counts = np.bincount(codes.astype(np.int64), minlength=len(values))
    return {value: int(counts[i]) for i, value in enumerate(values)}


def _distinct(numbers: np.ndarray) -> int:
    """Distinct positive ids without sorting (ids are dense small integers)."""
    return int(np.count_nonzero(np.bincount(numbers))) if len(numbers) else 0


def _clean_counts(rows: Rows) -> dict[str, int]:
    clean = rows["kind"] == 0
    keys = _distinct(rows["key"][clean])
    total = int(clean.sum())
    return {"rows": total, "keys": keys, "later_versions": total - keys}


def _truth(orders: Orders) -> dict[str, Any]:
    return {
        "net_revenue": _by_currency(orders.currency, orders.latest_net),
        "latest_orders_by_status": _count_by(orders.latest_status, vocab.ORDER_STATUSES),
        "latest_orders_by_currency": _count_by(orders.currency, vocab.CURRENCIES),
        "net_definition": "latest version per order_id/line_no; 0 when cancelled, "
        "else gross_amount - discount_amount - refunded_amount",
    }


def _unknown_customer_revenue(order_rows: Rows) -> dict[str, str]:
    """Revenue of orders that pass ingestion but have no contact: raw totals = truth + this."""
    unknown = order_rows.take(order_rows["kind"] == KIND["unknown_customer"])
    net = unknown["gross"] - unknown["discount"] - unknown["refunded"]
    net = np.where(unknown["status"] == CANCELLED, 0, net)
    return _by_currency(unknown["currency"], net)


def _dirty(p: Params, rows: dict[str, Rows]) -> dict[str, Any]:
    by_entity = {entity: kind_counts(entity_rows) for entity, entity_rows in rows.items()}
    by_kind = {
        kind: sum(counts[kind] for counts in by_entity.values()) for kind in next(iter(by_entity.values()))
    }
    passing = {kind: by_kind[kind] for kind in PASSING_KINDS}
    return {
        "share": p.dirty,
        "total": sum(by_kind.values()),
        "quarantined": sum(by_kind.values()) - sum(passing.values()),
        "passing_ingestion": passing,
        "by_kind": by_kind,
        "by_entity": by_entity,
        "unknown_customer_net_revenue": _unknown_customer_revenue(rows["orders"]),
    }


def build_manifest(p: Params, rows: dict[str, Rows], orders: Orders, files: dict[str, int]) -> dict[str, Any]:
    return {
        "generator": "tierwise_dev.generate",
        "format_version": FORMAT_VERSION,
        "parameters": {
            "customers": p.customers,
            "orders": p.orders,
            "seed": p.seed,
            "dirty": p.dirty,
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
        },
        "layout": {entity: f"{entity}/{entity}_YYYY-MM-DD.csv" for entity in rows},
        "files": files,
        "rows_written": {entity: len(entity_rows) for entity, entity_rows in rows.items()},
        "clean": {entity: _clean_counts(entity_rows) for entity, entity_rows in rows.items()},
        "distinct_orders": orders.count,
        "distinct_customers": p.customers,
        "customers_with_orders": _distinct(orders.customer),
        "truth": _truth(orders),
        "dirty": _dirty(p, rows),
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
