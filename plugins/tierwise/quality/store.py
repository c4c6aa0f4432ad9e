"""``ops.quality_results``: one row per expectation per gate run, in the warehouse."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import duckdb

from tierwise.engine import table_exists, transaction

if TYPE_CHECKING:
    from tierwise.quality.report import ExpectationResult

TABLE = "ops.quality_results"

_DDL = f"""
create table if not exists {TABLE} (
    run_id varchar not null,
    validated_at timestamp not null,
    as_of_date date,
    gate varchar not null,
    suite varchar not null,
    check_name varchar,
    expectation_type varchar,
    column_name varchar,
    severity varchar,
    outcome varchar not null,   -- passed | failed | warned | error
    success boolean,            -- null when the expectation could not run
    observed_value varchar,
    element_count bigint,
    unexpected_count bigint,
    unexpected_percent double,
    details varchar             -- JSON: sample failing rows, error message
)
"""

_COLUMNS = (
    "run_id, validated_at, as_of_date, gate, suite, check_name, expectation_type, column_name, severity,"
    " outcome, success, observed_value, element_count, unexpected_count, unexpected_percent, details"
)


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ops")
    con.execute(_DDL)


def _row(
    result: ExpectationResult, run_id: str, validated_at: datetime, as_of_date: date | None, gate: str
) -> tuple[object, ...]:
    details = {"failing_rows": list(result.failing_rows), "error": result.error}
    return (
        run_id,
        validated_at,
        as_of_date,
        gate,
        result.suite,
        result.check,
        result.expectation_type,
        result.column,
        result.severity,
        result.outcome,
        result.success,
        result.observed_value,
        result.element_count,
        result.unexpected_count,
        result.unexpected_percent,
        json.dumps(details, default=str),
    )


def write_results(
    con: duckdb.DuckDBPyConnection,
    results: Sequence[ExpectationResult],
    *,
    run_id: str,
    validated_at: datetime,
    as_of_date: date | None,
    gate: str,
) -> None:
    """Replace this run's rows for the gate (a retried task writes its slice once)."""
    ensure_table(con)
    rows = [_row(result, run_id, validated_at, as_of_date, gate) for result in results]
    with transaction(con):
        con.execute(f"delete from {TABLE} where run_id = ? and gate = ?", [run_id, gate])
        if rows:
            con.executemany(f"insert into {TABLE} ({_COLUMNS}) values ({', '.join('?' * 16)})", rows)


def previous_row_count(con: duckdb.DuckDBPyConnection, suite: str, run_id: str) -> int | None:
    """Row count seen by the last *passed* volume check of ``suite`` in another run."""
    if not table_exists(con, "ops", "quality_results"):
        return None
    # Only passed checks: after a collapse the next run still compares with the healthy count.
    row = con.execute(
        f"select try_cast(observed_value as bigint) from {TABLE}"
        " where suite = ? and check_name = ? and success and run_id <> ?"
        " order by validated_at desc limit 1",
        [suite, f"{suite.split('.', 1)[1]}.volume", run_id],
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


@dataclass(frozen=True)
class GateRun:
    """One recorded run of a gate: when, for which evaluation, and what closed it."""

    run_id: str
    validated_at: datetime
    as_of_date: date | None
    failed: tuple[str, ...]  # failed critical checks, with what was observed
    errors: tuple[str, ...]  # checks that could not run

    @property
    def passed(self) -> bool:
        return not self.failed and not self.errors


def _problems(con: duckdb.DuckDBPyConnection, gate: str, run_id: str, outcome: str) -> tuple[str, ...]:
    rows = con.execute(
        f"select check_name, observed_value from {TABLE}"
        " where gate = ? and run_id = ? and outcome = ? order by suite, check_name",
        [gate, run_id, outcome],
    ).fetchall()
    return tuple(f"{check} (observed {observed})" if observed else str(check) for check, observed in rows)


def latest_run(con: duckdb.DuckDBPyConnection, gate: str, *, after: datetime | None) -> GateRun | None:
    """The last run of ``gate`` validated after ``after`` (any time when None), or None.

    A run's rows share one ``validated_at`` (a retried task replaces its rows), so the
    newest row names the newest run.
    """
    if not table_exists(con, "ops", "quality_results"):
        return None
    row = con.execute(
        f"select run_id, validated_at, as_of_date from {TABLE}"
        " where gate = ? and (cast(? as timestamp) is null or validated_at > ?)"
        " order by validated_at desc limit 1",
        [gate, after, after],
    ).fetchone()
    if row is None:
        return None
    run_id, validated_at, as_of_date = row
    failed = _problems(con, gate, run_id, "failed")
    return GateRun(str(run_id), validated_at, as_of_date, failed, _problems(con, gate, run_id, "error"))
