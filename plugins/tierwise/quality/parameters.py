"""Run parameters of a gate: the values the committed suites leave open.

Built-in expectations read them as ``$PARAMETER`` references; the SQL checks read the scalar
ones as DuckDB session variables named ``tw_<name>``. One dict feeds both, so a value has one
name everywhere (suites, reports, thresholds).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb

from tierwise import schema
from tierwise.engine import table_exists
from tierwise.exceptions import ValidationRunError
from tierwise.quality import store
from tierwise.quality.thresholds import RAW_TABLES, Thresholds

# Where dbt may have loaded the tier_ladder seed, in order of preference.
TIER_LADDER_TABLES = (("marts", "tier_ladder"), ("staging", "tier_ladder"), ("main", "tier_ladder"))


@dataclass(frozen=True)
class RunParameters:
    values: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def variables(self) -> dict[str, Any]:
        """Scalar parameters, for ``SET VARIABLE tw_<name>``."""
        return {f"tw_{k}": v for k, v in self.values.items() if isinstance(v, int | float | str)}


def _timestamp(day: date) -> str:
    # Full ISO timestamps: with a bare date GX compares a TIMESTAMP column's max as a date.
    return datetime.combine(day, time.min).isoformat()


def _allowed_sets() -> dict[str, list[str]]:
    return {
        "order_statuses": list(schema.ORDER_STATUSES),
        "currencies": list(schema.CURRENCIES),
        "payment_methods": list(schema.PAYMENT_METHODS),
        "contact_statuses": list(schema.CONTACT_STATUSES),
        "account_types": list(schema.ACCOUNT_TYPES),
        "ticket_categories": list(schema.TICKET_CATEGORIES),
        "ticket_severities": list(schema.TICKET_SEVERITIES),
        "ticket_statuses": list(schema.TICKET_STATUSES),
    }


def _newest_export(con: duckdb.DuckDBPyConnection, table: str) -> date | None:
    if not table_exists(con, "raw", table):
        return None
    row = con.execute(f"select max(_file_date) from raw.{table}").fetchone()
    return row[0] if row else None


def _freshness(
    con: duckdb.DuckDBPyConnection, table: str, max_age: int, as_of_date: date | None, earliest: date
) -> tuple[str, str | None]:
    reference = as_of_date or _newest_export(con, table)
    if reference is None:
        return _timestamp(earliest), f"raw.{table}: freshness not checked (no as_of_date and no export date)"
    return _timestamp(reference - timedelta(days=max_age)), None


def _min_rows(con: duckdb.DuckDBPyConnection, table: str, ratio: float, run_id: str) -> int:
    previous = store.previous_row_count(con, f"raw.{table}", run_id)
    # Without history the only volume rule is "not empty".
    return max(1, math.ceil(previous * ratio)) if previous else 1


def raw_parameters(
    con: duckdb.DuckDBPyConnection, thresholds: Thresholds, as_of_date: date | None, run_id: str
) -> RunParameters:
    raw = thresholds.raw
    values: dict[str, Any] = {
        **_allowed_sets(),
        "earliest_timestamp": _timestamp(raw.earliest_date),
        "max_amount": raw.max_amount,
    }
    for name, tolerance in raw.formats.items():
        values[f"{name}_warn_mostly"] = tolerance.warn_mostly
        values[f"{name}_fail_mostly"] = tolerance.fail_mostly
    notes: list[str] = []
    for table in RAW_TABLES:
        values[f"{table}_min_rows"] = _min_rows(con, table, raw.volume_min_ratio, run_id)
        fresh_after, note = _freshness(con, table, raw.max_age_days[table], as_of_date, raw.earliest_date)
        values[f"{table}_fresh_after"] = fresh_after
        notes += [note] if note else []
    return RunParameters(values, tuple(notes))


def tier_codes(con: duckdb.DuckDBPyConnection, seed_csv: Path) -> list[str]:
    """Allowed tier codes: the tier_ladder seed in the warehouse, else the dbt seed CSV."""
    for schema_name, table in TIER_LADDER_TABLES:
        if table_exists(con, schema_name, table):
            rows = con.execute(f"select distinct tier_code from {schema_name}.{table} order by 1").fetchall()
            return [str(code) for (code,) in rows if code is not None]
    if seed_csv.is_file():
        with seed_csv.open(newline="", encoding="utf-8") as handle:
            return sorted({row["tier_code"] for row in csv.DictReader(handle) if row.get("tier_code")})
    raise ValidationRunError(
        f"cannot check tier codes: no tier_ladder table in the warehouse and no seed file {seed_csv}"
    )


def staged_net_revenue(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    try:
        row = con.execute(sql).fetchone()
    except duckdb.Error as error:
        message = f"staged net revenue query failed (thresholds.yml marts.revenue): {error}"
        raise ValidationRunError(message) from error
    # No staged order lines sums to NULL: nothing to reconcile against but zero.
    return float(row[0]) if row and row[0] is not None else 0.0


def marts_parameters(con: duckdb.DuckDBPyConnection, thresholds: Thresholds, seed_csv: Path) -> RunParameters:
    marts = thresholds.marts
    values: dict[str, Any] = {
        "tier_codes": tier_codes(con, seed_csv),
        "a_share_min": marts.a_share.min,
        "a_share_max": marts.a_share.max,
        "revenue_abs_tolerance": marts.revenue.abs_tolerance,
        "staged_net_revenue": staged_net_revenue(con, marts.revenue.staged_net_revenue_sql),
    }
    return RunParameters(values)
