"""Run parameters of a gate: the values the committed suites leave open.

Built-in expectations read them as ``$PARAMETER`` references; the SQL checks read the scalar
ones as ``getvariable('tw_<name>')`` (DuckDB session variables; on Spark a session function of
that name, see ``gx_spark``). One dict feeds both, so a value has one name everywhere (suites,
reports, thresholds). Values computed from the data (newest export, tier codes, staged revenue)
are read from where the validated tables are (:class:`~tierwise.quality.warehouse.Tables`: the
DuckDB warehouse, or Spark's catalog); the volume history always from the ledger's results.
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
from tierwise.exceptions import ValidationRunError
from tierwise.quality import store
from tierwise.quality.thresholds import RAW_TABLES, Thresholds
from tierwise.quality.warehouse import Tables, tables_of

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


def _newest_export(data: Tables, table: str) -> date | None:
    if not data.exists("raw", table):
        return None
    rows = data.rows(f"select max(_file_date) from raw.{table}")
    return rows[0][0] if rows else None


def _freshness(
    data: Tables, table: str, max_age: int, as_of_date: date | None, earliest: date
) -> tuple[str, str | None]:
    reference = as_of_date or _newest_export(data, table)
    if reference is None:
        return _timestamp(earliest), f"raw.{table}: freshness not checked (no as_of_date and no export date)"
    return _timestamp(reference - timedelta(days=max_age)), None


def _min_rows(con: duckdb.DuckDBPyConnection, table: str, ratio: float, run_id: str) -> int:
    previous = store.previous_row_count(con, f"raw.{table}", run_id)
    # Without history the only volume rule is "not empty".
    return max(1, math.ceil(previous * ratio)) if previous else 1


def raw_parameters(
    con: duckdb.DuckDBPyConnection,
    thresholds: Thresholds,
    as_of_date: date | None,
    run_id: str,
    data: Tables | None = None,
) -> RunParameters:
    """Parameters of the raw gate; ``con`` is the ledger, ``data`` the raw tables (default: ``con``)."""
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
        fresh_after, note = _freshness(
            data or tables_of(con), table, raw.max_age_days[table], as_of_date, raw.earliest_date
        )
        values[f"{table}_fresh_after"] = fresh_after
        notes += [note] if note else []
    return RunParameters(values, tuple(notes))


def tier_codes(source: Tables | duckdb.DuckDBPyConnection, seed_csv: Path) -> list[str]:
    """Allowed tier codes: the tier_ladder seed in the warehouse, else the dbt seed CSV."""
    data = tables_of(source)
    for schema_name, table in TIER_LADDER_TABLES:
        if data.exists(schema_name, table):
            rows = data.rows(f"select distinct tier_code from {schema_name}.{table} order by 1")
            return [str(code) for (code,) in rows if code is not None]
    if seed_csv.is_file():
        with seed_csv.open(newline="", encoding="utf-8") as handle:
            return sorted({row["tier_code"] for row in csv.DictReader(handle) if row.get("tier_code")})
    raise ValidationRunError(
        f"cannot check tier codes: no tier_ladder table in the warehouse and no seed file {seed_csv}"
    )


def staged_net_revenue(source: Tables | duckdb.DuckDBPyConnection, sql: str) -> float:
    """The one number ``sql`` (thresholds.yml, in the engine's SQL dialect) returns."""
    data = tables_of(source)
    try:
        rows = data.rows(sql)
    except data.errors as error:
        message = f"staged net revenue query failed (thresholds.yml marts.revenue): {error}"
        raise ValidationRunError(message) from error
    row = rows[0] if rows else None
    # No staged order lines sums to NULL: nothing to reconcile against but zero.
    return float(row[0]) if row and row[0] is not None else 0.0


def marts_parameters(
    source: Tables | duckdb.DuckDBPyConnection, thresholds: Thresholds, seed_csv: Path
) -> RunParameters:
    """Parameters of the marts gate, read from the warehouse the marts are in."""
    marts = thresholds.marts
    values: dict[str, Any] = {
        "tier_codes": tier_codes(source, seed_csv),
        "a_share_min": marts.a_share.min,
        "a_share_max": marts.a_share.max,
        "revenue_abs_tolerance": marts.revenue.abs_tolerance,
        "staged_net_revenue": staged_net_revenue(source, marts.revenue.staged_net_revenue_sql),
    }
    return RunParameters(values)
