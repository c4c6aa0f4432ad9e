"""The usual alternative: the compared mart columns computed with pandas, as a notebook would.

Reads every daily CSV export with ``read_csv`` (only the columns it needs), keeps the record
version in force at the evaluation cut-off, and computes per customer: orders_count,
net_revenue, monetary, frequency, recency_days, abc_class, tier_code, is_eligible, with the
rules of ``dbt_project.yml`` and the seeds (the same definitions as the dbt marts; the bench
checks the output against them). Money is kept in integer cents so that the per-line rounding
of the EUR conversion matches the warehouse's decimals to the cent.

    python devtools/tierwise_dev/bench/pandas_baseline.py --data-dir DIR --project-dir dbt_project \\
        --as-of 2025-12-31 --out customers.parquet
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ORDER_COLUMNS = {
    "order_id": "str",
    "line_no": "Int64",
    "customer_id": "str",
    "status": "str",
    "currency": "str",
    "gross_amount": "float64",
    "discount_amount": "float64",
    "refunded_amount": "float64",
    "parent_order_id": "str",
}
CONTACT_COLUMNS = {
    "customer_id": "str",
    "account_type": "str",
    "status": "str",
    "is_verified": "boolean",
    "is_deleted": "boolean",
    "merged_into": "str",
}
MAX_MERGE_HOPS = 10
RATE_UNITS = 100_000_000  # fx rates as integers of 1e-8 EUR


def read_exports(folder: Path, dtypes: dict[str, str], dates: list[str]) -> pd.DataFrame:
    """All daily files of one export; ``file_no`` keeps the file order (a later file wins a tie)."""
    frames = []
    for file_no, path in enumerate(sorted(folder.glob("*.csv"))):
        frame = pd.read_csv(path, usecols=[*dtypes, *dates], dtype=dtypes | dict.fromkeys(dates, "str"))
        frames.append(frame.assign(file_no=np.int32(file_no)))
    exports = pd.concat(frames, ignore_index=True)
    # Parsed once after the concat: header-only days would otherwise turn the columns into objects.
    for column in dates:
        exports[column] = pd.to_datetime(exports[column], format="ISO8601")
    return exports


def as_of_versions(frame: pd.DataFrame, keys: list[str], cutoff: pd.Timestamp) -> pd.DataFrame:
    """The version of each key in force at the cut-off: the latest one updated before it."""
    known = frame[frame["updated_at"] < cutoff]
    ordered = known.sort_values([*keys, "updated_at", "file_no"])
    return ordered.drop_duplicates(keys, keep="last")


def cents(values: pd.Series) -> pd.Series:
    return (values.fillna(0.0) * 100).round().astype("int64")


def load_contacts(data_dir: Path, cutoff: pd.Timestamp) -> pd.DataFrame:
    contacts = read_exports(data_dir / "contacts", CONTACT_COLUMNS, ["signup_date", "updated_at"])
    contacts = as_of_versions(contacts, ["customer_id"], cutoff)
    merged_into = contacts["merged_into"].str.strip().replace("", pd.NA)
    contacts = contacts.assign(
        account_type=contacts["account_type"].str.lower(),
        status=contacts["status"].str.lower(),
        is_verified=contacts["is_verified"].fillna(False).astype(bool),
        is_deleted=contacts["is_deleted"].fillna(False).astype(bool),
        merged_into=merged_into.where(merged_into != contacts["customer_id"]),
    )
    return contacts.assign(surviving_id=surviving_ids(contacts))


def surviving_ids(contacts: pd.DataFrame) -> pd.Series:
    """Follow merge chains (at most 10 hops); a chain that does not end (a cycle) keeps its own id."""
    merged = contacts.dropna(subset=["merged_into"]).set_index("customer_id")["merged_into"]
    reached = merged.copy()
    for _ in range(MAX_MERGE_HOPS - 1):
        step = reached.map(merged)
        moving = step.notna()
        if not moving.any():
            break
        reached[moving] = step[moving]
    unresolved = reached.isin(merged.index)
    survivor = reached.where(~unresolved, reached.index.to_series())
    return contacts["customer_id"].map(survivor).fillna(contacts["customer_id"])


def fx_rates(seeds_dir: Path) -> pd.DataFrame:
    rates = pd.read_csv(seeds_dir / "fx_rates.csv", parse_dates=["valid_from"])
    rates["rate_units"] = (rates["rate_to_eur"] * RATE_UNITS).round().astype("int64")
    return rates.sort_values("valid_from")


def with_rates(orders: pd.DataFrame, rates: pd.DataFrame) -> np.ndarray:
    """The rate in force on each order date; before a currency's first rate, that first rate."""
    orders = orders.assign(ordered_on=orders["ordered_at"].dt.normalize(), row=np.arange(len(orders)))
    dated = pd.merge_asof(
        orders.sort_values("ordered_on")[["row", "ordered_on", "currency"]],
        rates[["valid_from", "currency", "rate_units"]],
        left_on="ordered_on",
        right_on="valid_from",
        by="currency",
    ).set_index("row")["rate_units"]
    first = rates.groupby("currency")["rate_units"].first()
    fallback = orders["currency"].map(first).set_axis(orders["row"])
    return dated.reindex(orders["row"]).fillna(fallback).astype("int64").to_numpy()


def load_order_lines(data_dir: Path, seeds_dir: Path, cutoff: pd.Timestamp) -> pd.DataFrame:
    orders = read_exports(data_dir / "orders", ORDER_COLUMNS, ["ordered_at", "updated_at"])
    orders["updated_at"] = orders["updated_at"].fillna(orders["ordered_at"])
    orders["line_no"] = orders["line_no"].fillna(1)
    orders = as_of_versions(orders, ["order_id", "line_no"], cutoff)
    orders = orders[orders["ordered_at"] < cutoff].reset_index(drop=True)
    orders["currency"] = orders["currency"].str.upper()
    net = cents(orders["gross_amount"]) - cents(orders["discount_amount"]) - cents(orders["refunded_amount"])
    net = net.where(orders["status"].str.lower() != "cancelled", 0)
    exact = net.to_numpy() * with_rates(orders, fx_rates(seeds_dir))
    # Round half away from zero to the cent, as the warehouse's decimal cast does.
    rounded = np.sign(exact) * ((np.abs(exact) + RATE_UNITS // 2) // RATE_UNITS)
    parent = orders["parent_order_id"].str.strip().replace("", pd.NA)
    return pd.DataFrame(
        {
            "customer_id": orders["customer_id"],
            "purchase_id": parent.fillna(orders["order_id"]),
            "ordered_at": orders["ordered_at"],
            "net_cents": rounded.astype("int64"),
        }
    )


def customer_measures(
    lines: pd.DataFrame, customers: pd.Index, as_of: date, window_months: int
) -> pd.DataFrame:
    purchases = lines.groupby(["customer_id", "purchase_id"], sort=False).agg(
        purchased_at=("ordered_at", "min"), net_cents=("net_cents", "sum")
    )
    window_start = pd.Timestamp(as_of) - pd.DateOffset(months=window_months) + pd.Timedelta(days=1)
    positive = purchases["net_cents"] > 0
    in_window = purchases["purchased_at"].dt.normalize() >= window_start
    parts = pd.DataFrame(
        {
            "net_revenue": purchases["net_cents"],
            "orders_count": positive.astype("int64"),
            "last_order_at": purchases["purchased_at"].where(positive),
            "monetary": purchases["net_cents"].where(in_window, 0),
            "frequency": (positive & in_window).astype("int64"),
        }
    )
    per_customer = parts.groupby(level="customer_id").agg(
        {
            "net_revenue": "sum",
            "orders_count": "sum",
            "last_order_at": "max",
            "monetary": "sum",
            "frequency": "sum",
        }
    )
    measures = per_customer.reindex(customers)
    counts = ["net_revenue", "orders_count", "monetary", "frequency"]
    measures[counts] = measures[counts].fillna(0).astype("int64")
    days = (pd.Timestamp(as_of) - measures["last_order_at"].dt.normalize()).dt.days
    return measures.assign(recency_days=days.astype("Int64"))


def eligibility(contacts: pd.DataFrame, customers: pd.Index, as_of: date, rules: dict[str, Any]) -> pd.Series:
    own = contacts[contacts["customer_id"] == contacts["surviving_id"]].set_index("customer_id")
    own = own.reindex(customers)
    tenure_reached = own["signup_date"] + pd.DateOffset(months=int(rules["eligibility_min_tenure_months"]))
    verified = own["is_verified"].fillna(False).astype(bool) | (not rules["eligibility_require_verified"])
    eligible = (
        own["surviving_id"].notna()
        & ~own["is_deleted"].fillna(False).astype(bool)
        & ~own["account_type"].isin(rules["eligibility_excluded_account_types"])
        & own["status"].isin(rules["eligibility_allowed_statuses"])
        & verified
        & (tenure_reached <= pd.Timestamp(as_of)).fillna(False)
    )
    return eligible.astype(bool)


def abc_classes(monetary: pd.Series, cutoffs: dict[str, float]) -> pd.Series:
    """Share method: position = value of the customers ranked before the tie group / all positive value."""
    positive = monetary[monetary > 0]
    groups = positive.groupby(positive).sum().sort_index(ascending=False)
    before = (groups.cumsum() - groups) / 100
    position = monetary.map(before / (groups.sum() / 100))
    classes = np.select([position < cutoffs["a"], position < cutoffs["b"]], ["A", "B"], "C")
    return pd.Series(classes, index=monetary.index)


def tiers(measures: pd.DataFrame, eligible: pd.Series, seeds_dir: Path, unrated: str) -> pd.Series:
    """The highest rated tier an eligible customer reaches; the unrated tier for everyone else."""
    ladder = pd.read_csv(seeds_dir / "tier_ladder.csv").sort_values("tier_rank")
    tier = pd.Series(unrated, index=measures.index)
    for step in ladder[ladder["tier_code"] != unrated].itertuples():
        reached = (measures["monetary"] >= round(step.min_value * 100)) & (
            measures["frequency"] >= step.min_orders
        )
        tier[reached & eligible] = step.tier_code
    return tier


def compute(data_dir: Path, project_dir: Path, as_of: date) -> pd.DataFrame:
    rules = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    seeds_dir = project_dir / "seeds"
    cutoff = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    contacts = load_contacts(data_dir, cutoff)
    lines = load_order_lines(data_dir, seeds_dir, cutoff)
    survivor = contacts.set_index("customer_id")["surviving_id"]
    lines["customer_id"] = lines["customer_id"].map(survivor).fillna(lines["customer_id"])
    customers = pd.Index(
        pd.concat([contacts["surviving_id"], lines["customer_id"]]).unique(), name="customer_id"
    )
    measures = customer_measures(lines, customers, as_of, int(rules["evaluation_window_months"]))
    eligible = eligibility(contacts, customers, as_of, rules)
    result = measures.assign(
        net_revenue=measures["net_revenue"] / 100,
        monetary=measures["monetary"] / 100,
        abc_class=abc_classes(measures["monetary"], rules["abc_share_cutoffs"]),
        tier_code=tiers(measures, eligible, seeds_dir, str(rules["unrated_tier_code"])),
        is_eligible=eligible,
    )
    return result.drop(columns="last_order_at").reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--project-dir", type=Path, required=True, help="the dbt project (vars and seeds)")
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    compute(args.data_dir, args.project_dir, args.as_of).to_parquet(args.out, index=False)


if __name__ == "__main__":
    main()
