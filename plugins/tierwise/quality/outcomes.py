"""GX validation results -> :class:`ExpectationResult` (outcome, observed value, failing rows)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tierwise.masking import redact_record
from tierwise.quality.report import ERROR, FAILED, PASSED, WARNED, ExpectationResult

SAMPLE_ROWS = 5
# Runs a SQL check's query (``{batch}`` already substituted) and returns up to n rows.
RowSampler = Callable[[str, int], list[dict[str, Any]]]


def plain(value: Any) -> Any:
    """JSON-friendly value: dates as ISO text, decimals as float, NaN as None (recursively)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def error_message(exception_info: dict[str, Any] | None) -> str | None:
    """The first exception GX caught for this expectation, or None if it ran."""
    if not exception_info:
        return None
    # GX reports either one flat record or one record per metric that failed.
    records = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for record in records:
        if isinstance(record, dict) and record.get("raised_exception"):
            return str(record.get("exception_message") or "exception inside Great Expectations")
    return None


def _column(kwargs: dict[str, Any]) -> str | None:
    if kwargs.get("column"):
        return str(kwargs["column"])
    columns = kwargs.get("column_list") or kwargs.get("column_set")
    return ",".join(map(str, columns)) if columns else None


def _observed(result: dict[str, Any]) -> str | None:
    if "observed_value" in result:
        return str(plain(result["observed_value"]))
    if result.get("unexpected_count") is not None:
        # Map expectations have no single observed value: report the unexpected share.
        share = result.get("unexpected_percent") or 0.0
        return f"{result['unexpected_count']} unexpected of {result.get('element_count')} ({share:.2f}%)"
    return None


def _outcome(success: bool | None, severity: str, error: str | None) -> str:
    if error is not None:
        return ERROR
    if success:
        return PASSED
    return FAILED if severity == "critical" else WARNED


def _count(result: dict[str, Any], key: str) -> int | None:
    value = result.get(key)
    return int(value) if value is not None else None


def _map_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    if result.get("partial_unexpected_index_list"):
        return [plain(row) for row in result["partial_unexpected_index_list"]]
    values = result.get("partial_unexpected_list") or []
    return [plain(v) if isinstance(v, dict) else {"value": plain(v)} for v in values]


def _failing_rows(
    kwargs: dict[str, Any], result: dict[str, Any], outcome: str, table: str, sampler: RowSampler
) -> tuple[dict[str, Any], ...]:
    if outcome not in (FAILED, WARNED):
        return ()
    query = kwargs.get("unexpected_rows_query")
    if isinstance(query, str):
        # GX returns these rows only in COMPLETE format (every row); fetch a sample ourselves.
        rows = [plain(row) for row in sampler(query.format(batch=table), SAMPLE_ROWS)]
    else:
        rows = _map_rows(result)[:SAMPLE_ROWS]
    # Kept in ops.quality_results and quoted in gate messages: keys yes, personal values no.
    return tuple(redact_record(row) for row in rows)


def convert(validation: Any, suite: str, table: str, sampler: RowSampler) -> ExpectationResult:
    """One GX ExpectationValidationResult of ``suite`` (validating ``table``) as our result."""
    config = validation.expectation_config
    kwargs: dict[str, Any] = dict(config.kwargs)
    meta: dict[str, Any] = dict(config.meta or {})
    severity = str(getattr(config.severity, "value", config.severity) or "critical")
    error = error_message(validation.exception_info)
    result: dict[str, Any] = dict(validation.result or {})
    outcome = _outcome(validation.success, severity, error)
    return ExpectationResult(
        suite=suite,
        check=str(meta.get("check") or config.type),
        expectation_type=str(config.type),
        column=_column(kwargs),
        severity=severity,
        outcome=outcome,
        success=None if error is not None else bool(validation.success),
        observed_value=_observed(result),
        element_count=_count(result, "element_count"),
        unexpected_count=_count(result, "unexpected_count"),
        unexpected_percent=result.get("unexpected_percent"),
        failing_rows=_failing_rows(kwargs, result, outcome, table, sampler) if error is None else (),
        error=error,
    )


def run_error(suite: str, error: BaseException) -> ExpectationResult:
    """Stand-in result for a suite that could not run at all."""
    return ExpectationResult(
        suite=suite,
        check=f"{suite.split('.', 1)[-1]}.run",
        expectation_type="(validation run)",
        column=None,
        severity="critical",
        outcome=ERROR,
        success=None,
        error=f"{type(error).__name__}: {error}",
    )


def convert_suite(
    validations: Sequence[Any], suite: str, table: str, sampler: RowSampler
) -> list[ExpectationResult]:
    return [convert(validation, suite, table, sampler) for validation in validations]
