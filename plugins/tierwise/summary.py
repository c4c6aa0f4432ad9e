"""The run summary: what happened, and where the results are."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tierwise.context import RunContext
from tierwise.engine import Connection, Engine, column_names, fetch_all, table_exists
from tierwise.masking import get_logger, mask
from tierwise.pipeline import StageName, StageResult
from tierwise.reporting.result import ReportResult
from tierwise.snapshot import snapshot_path

log = get_logger(__name__)


def _tier_rows(con: Connection) -> list[tuple[Any, ...]]:
    return fetch_all(
        con,
        """
        select coalesce(tier_code, 'none') as tier, count(*) as customers,
               round(sum(measure_value), 2) as value
        from marts.customer_tiers
        group by 1
        order by min(tier_rank) desc nulls last
        """,
    )


def _abc_rows(con: Connection) -> list[tuple[Any, ...]]:
    return fetch_all(
        con,
        """
        select abc_class, count(*) as customers,
               round(100.0 * count(*) / sum(count(*)) over (), 1) as pct_customers,
               round(100.0 * sum(measure_value) / nullif(sum(sum(measure_value)) over (), 0), 1) as pct_value
        from marts.customer_tiers
        group by 1
        order by 1
        """,
    )


# The rule behind each reason a customer is not eligible: what to change to grade them.
REASON_SETTINGS = {
    "no_crm_record": "var eligibility_without_crm_record: eligible",
    "deleted": "deleted in the CRM",
    "excluded_account_type": "var eligibility_excluded_account_types",
    "status_not_allowed": "var eligibility_allowed_statuses",
    "not_verified": "var eligibility_require_verified: false",
    "tenure_below_minimum": "var eligibility_min_tenure_months",
}


def _unrated_rows(con: Connection) -> list[tuple[Any, ...]]:
    """(reason, customers) of the unrated: each ineligibility reason, and eligible but below the ladder."""
    columns = set(column_names(con, "marts", "customer_tiers"))
    if not {"tier_rank", "ineligibility_reason"} <= columns or not table_exists(
        con, "staging", "tier_ladder"
    ):
        return []  # marts of an older build, or not built by dbt
    # The unrated tier is the ladder's lowest rank (var unrated_tier_code, checked by dbt).
    return fetch_all(
        con,
        """
        select coalesce(ineligibility_reason, 'below_lowest_tier') as reason, count(*) as customers
        from marts.customer_tiers
        where tier_rank = (select min(tier_rank) from staging.tier_ladder)
        group by 1
        order by 2 desc, 1
        """,
    )


def unrated_line(rows: Sequence[Sequence[Any]]) -> str:
    """How many customers are unrated and why, with the setting that changes each reason."""
    total = sum(int(count) for _, count in rows)
    if not total:
        return "  unrated: none"
    parts = []
    for reason, count in rows:
        setting = REASON_SETTINGS.get(
            str(reason), "the lowest rated tier's min_value in seeds/tier_ladder.csv"
        )
        parts.append(f"{reason} {int(count):,} ({setting})")
    return f"  unrated: {total:,} customers: " + "; ".join(parts)


def _clv_fit_rows(con: Connection) -> list[tuple[Any, ...]]:
    if not table_exists(con, "marts", "clv_fit_diagnostics"):
        return []
    return fetch_all(
        con,
        "select model_name, fit_status, degenerate_reason from marts.clv_fit_diagnostics order by model_name",
    )


def clv_line(fits: Sequence[Sequence[Any]]) -> str:
    """One line on the CLV fits; a fit that is not converged says why and that the fallback applies."""
    told = ", ".join(f"{model} {status}" + (f" ({why})" if why else "") for model, status, why in fits)
    if all(status == "converged" for _, status, _ in fits):
        return f"  CLV fits: {told}"
    return f"  CLV fits: {told}; predicted CLV uses the historic fallback (see marts.clv_fit_diagnostics)"


def warehouse_facts(engine: Engine) -> dict[str, Any]:
    """Read the headline numbers of the marts (read-only connection)."""
    if not engine.exists():
        return {}
    with engine.connect(read_only=True) as con:
        if not table_exists(con, "marts", "customer_tiers"):
            return {}
        facts: dict[str, Any] = {"tiers": _tier_rows(con), "abc": _abc_rows(con)}
        facts["clv_fits"] = _clv_fit_rows(con)
        facts["unrated"] = _unrated_rows(con)
        for table in ("customer_value", "customer_tiers"):
            facts[f"{table}_rows"] = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
        facts["as_of_date"] = str(
            con.execute("select max(as_of_date) from marts.customer_tiers").fetchone()[0]
        )
    return facts


def _data_docs(results: Sequence[StageResult]) -> str | None:
    paths = [r.details.get("data_docs") for r in results if r.stage is StageName.VALIDATE]
    return next((str(path) for path in reversed(paths) if path), None)


def _stage_lines(results: Sequence[StageResult]) -> list[str]:
    """One line per stage, and one for a stage another one ran (the marts gate's BI snapshot)."""
    lines = []
    for result in results:
        nested = result.details.get("snapshot")
        stages = (result, StageResult.from_dict(nested)) if nested else (result,)
        lines += [f"  {stage.stage.value:<9} {stage.line}" for stage in stages]
    return lines


def _report_lines(report: ReportResult | None) -> list[str]:
    """Where the run report is, or why it is missing or incomplete."""
    if report is None:
        return []
    where = str(report.path) if report.path else "not written"
    lines = [f"  run report    {where}" + (f"  (latest: {report.latest})" if report.latest else "")]
    return lines + [f"  run report error: {error}" for error in report.errors]


def render(
    ctx: RunContext, results: Sequence[StageResult], facts: dict[str, Any], report: ReportResult | None = None
) -> str:
    settings = ctx.settings
    lines = [f"Tierwise run {ctx.run_id} — evaluation as of {facts.get('as_of_date', ctx.as_of_date)}", ""]
    lines += _stage_lines(results)
    if facts:
        lines += [
            "",
            f"  customers valued: {facts['customer_value_rows']:,}; tiered: {facts['customer_tiers_rows']:,}",
        ]
        lines += [
            "  ABC (class: customers, % customers, % value): "
            + "; ".join(f"{cls}: {n:,}, {pc}%, {pv}%" for cls, n, pc, pv in facts["abc"])
        ]
        lines += ["  tiers: " + ", ".join(f"{tier} {n:,}" for tier, n, _ in facts["tiers"])]
        lines += [unrated_line(facts.get("unrated") or [])]
        lines += [clv_line(facts["clv_fits"])] if facts.get("clv_fits") else []
    lines += [
        "",
        "Where the results are:",
        f"  warehouse     {ctx.engine.location}  (schemas raw, quarantine, ops, staging, marts)",
        f"  published     {settings.publish_dir}",
        f"  BI snapshot   {snapshot_path(settings)}  (refreshed when the marts gate passes)",
        f"  data docs     {_data_docs(results) or 'not rendered'}",
        *_report_lines(report),
        f"  logs          {settings.log_dir}",
    ]
    return "\n".join(lines)


def write_report(ctx: RunContext, results: Sequence[StageResult]) -> ReportResult:
    """The run report, written beside the summary; a failure is told, never raised (the run is done)."""
    from tierwise.reporting.run_report import write_run_report

    try:
        return write_run_report(ctx, results)
    except Exception as error:
        told = mask(f"{type(error).__name__}: {error}")
        log.exception("run report not written: %s", told)
        return ReportResult(None, None, (f"not written: {told}",))


def write_summary(ctx: RunContext, results: Sequence[StageResult]) -> Path:
    """Write the summary as Markdown text and JSON; return the text file's path."""
    settings = ctx.settings
    facts = warehouse_facts(ctx.engine)
    report = write_report(ctx, results)
    if report.path:
        log.info("run report: %s (latest: %s)", report.path, report.latest)
    text = render(ctx, results, facts, report)
    runs_dir = settings.log_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    safe_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", ctx.run_id)
    payload = {
        "context": ctx.describe(),
        "stages": [result.to_dict() for result in results],
        "facts": facts,
        "report": report.to_dict(),
    }
    (runs_dir / f"{safe_id}.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    summary_path = runs_dir / f"{safe_id}.txt"
    summary_path.write_text(text + "\n", encoding="utf-8")
    (settings.log_dir / "last_run_summary.txt").write_text(text + "\n", encoding="utf-8")
    return summary_path
