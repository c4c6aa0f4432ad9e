"""Check that the floor and the pandas baseline computed what the marts hold.

A benchmark of wrong results is worthless: every compared column must agree, keys, counts,
classes and tiers exactly, money within a relative 1e-6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

EXACT_COLUMNS = ("orders_count", "frequency", "recency_days", "abc_class", "tier_code", "is_eligible")
MONEY_COLUMNS = ("net_revenue", "monetary")
RELATIVE_TOLERANCE = 1e-6
EXAMPLES = 3

MARTS_QUERY = """
select
    customer_value.customer_id,
    customer_value.orders_count,
    customer_value.net_revenue,
    customer_value.monetary,
    customer_value.frequency,
    customer_value.recency_days,
    customer_tiers.abc_class,
    customer_tiers.tier_code,
    customer_tiers.is_eligible
from wh.marts.customer_value
inner join wh.marts.customer_tiers
    on customer_value.customer_id = customer_tiers.customer_id
"""


def _differs(column: str) -> str:
    """SQL that is true when the two sides disagree on ``column`` (both sides present)."""
    if column in MONEY_COLUMNS:
        tolerance = f"{RELATIVE_TOLERANCE} * greatest(abs(mart.{column}), abs(other.{column}))"
        return f"not (abs(cast(mart.{column} as double) - cast(other.{column} as double)) <= {tolerance})"
    return f"mart.{column} is distinct from other.{column}"


def _counts_sql() -> str:
    columns = (*EXACT_COLUMNS, *MONEY_COLUMNS)
    both = "mart.customer_id is not null and other.customer_id is not null"
    per_column = ",\n".join(
        f"count(*) filter (where {both} and {_differs(name)}) as {name}" for name in columns
    )
    return f"""
select
    count(mart.customer_id) as mart_rows,
    count(other.customer_id) as other_rows,
    count(*) filter (where other.customer_id is null) as only_in_marts,
    count(*) filter (where mart.customer_id is null) as only_in_other,
    {per_column}
from pipeline as mart
full outer join other
    on mart.customer_id = other.customer_id
"""


def _examples(con: duckdb.DuckDBPyConnection, column: str) -> list[list[Any]]:
    rows = con.execute(
        f"""
        select mart.customer_id, mart.{column}, other.{column}
        from pipeline as mart
        inner join other on mart.customer_id = other.customer_id
        where {_differs(column)}
        order by mart.customer_id
        limit {EXAMPLES}
        """
    ).fetchall()
    return [[str(value) for value in row] for row in rows]


def compare_with_marts(warehouse: Path, output: Path) -> dict[str, Any]:
    """Mismatch counts per compared column between the marts and ``output`` (a parquet file)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        con.execute(f"create temp table pipeline as {MARTS_QUERY}")
        con.execute(f"create temp view other as select * from read_parquet('{output}')")
        cursor = con.execute(_counts_sql())
        names = [column[0] for column in cursor.description]
        counts = dict(zip(names, cursor.fetchone() or (), strict=True))
        mismatched = [name for name in (*EXACT_COLUMNS, *MONEY_COLUMNS) if counts[name]]
        examples = {name: _examples(con, name) for name in mismatched}
    finally:
        con.close()
    keys_ok = counts["only_in_marts"] == 0 and counts["only_in_other"] == 0
    return {
        "passed": keys_ok and not mismatched and counts["mart_rows"] > 0,
        "customers": counts["mart_rows"],
        "only_in_marts": counts["only_in_marts"],
        "only_in_other": counts["only_in_other"],
        "mismatches": {name: counts[name] for name in (*EXACT_COLUMNS, *MONEY_COLUMNS)},
        "examples": examples,
        "rule": f"keys, counts, classes, tiers exact; money within {RELATIVE_TOLERANCE:g} relative",
    }
