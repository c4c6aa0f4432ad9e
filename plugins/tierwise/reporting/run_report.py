"""The run report: one offline HTML page per evaluation that shows what the run produced.

Read at the end of a run (the run summary writes it), from the marts and ops tables through the
engine's connection, so it works alike on DuckDB and on Spark (whose marts the ledger holds after
the fetch). Each section is built on its own: one that fails shows its error in the page and is
listed in the run summary, the others still render, and the run does not fail. A section whose
data does not exist yet (no previous evaluation, nothing published) says so instead of drawing.
No personal column (email, phone, name) is read; free text from the warehouse is masked.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from tierwise.build_state import rules_in_force
from tierwise.context import RunContext
from tierwise.engine import Connection, fetch_all, list_tables, table_exists
from tierwise.masking import get_logger, mask
from tierwise.names import REASON_SETTINGS
from tierwise.reporting import charts
from tierwise.reporting.page import Link, Section, not_yet, render_page, section_or_error, write_page
from tierwise.reporting.result import ReportResult, latest_path, report_path, reports_dir
from tierwise.settings import Settings

log = get_logger(__name__)

HISTORY_EVALUATIONS = 12
PARETO_POINTS = 200
QUARANTINE_REASONS_DRAWN = 7
OTHER_REASONS = "other reasons"
UNRATED_COLOUR = "#999999"
OUTCOME_COLOURS = {"passed": "#009E73", "warned": "#E69F00", "failed": "#D55E00", "error": "#666666"}


@dataclass(frozen=True)
class Evaluation:
    """The evaluation the report shows (customer_tiers') and the one before it, if any."""

    as_of_date: date
    month: date
    previous_as_of_date: date | None
    previous_month: date | None


# --- the evaluation ------------------------------------------------------------------------------


def evaluation(con: Connection) -> Evaluation | None:
    """The evaluation of marts.customer_tiers and the one before it in the history; None before a build."""
    if not table_exists(con, "marts", "customer_tiers"):
        return None
    rows = fetch_all(con, "select max(as_of_date), max(evaluation_month) from marts.customer_tiers")
    if not rows or rows[0][0] is None:
        return None
    as_of, month = rows[0]
    before = fetch_all(
        con,
        "select max(as_of_date), evaluation_month from marts.customer_tier_history "
        "where evaluation_month < ? group by evaluation_month order by evaluation_month desc limit 1",
        [month],
    )
    previous = before[0] if before else (None, None)
    return Evaluation(as_of, month, previous[0], previous[1])


def tier_order(con: Connection) -> list[tuple[str, str]]:
    """(tier_code, tier_name) from the highest rank down: the ladder the marts were built with."""
    return [
        (str(code), str(name))
        for code, name in fetch_all(
            con,
            "select tier_code, max(tier_name) from marts.tier_summary group by tier_code "
            "order by max(tier_rank) desc, tier_code",
        )
    ]


def tier_colours(tiers: Sequence[str]) -> dict[str, str]:
    """The same colour for a tier in every chart; the lowest (unrated) tier grey."""
    rated = list(tiers[:-1]) if tiers else []
    colours = charts.colours_for(rated)
    if tiers:
        colours[tiers[-1]] = UNRATED_COLOUR
    return colours


def rows_if_exists(con: Connection, schema: str, table: str, query: str) -> list[tuple[Any, ...]] | None:
    """The rows of ``query``, or None when ``schema.table`` it reads does not exist (not yet written)."""
    return fetch_all(con, query) if table_exists(con, schema, table) else None


def _share(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


# --- sections ------------------------------------------------------------------------------------


def tier_mix(con: Connection, ev: Evaluation) -> Section:
    """Customers and revenue per tier of the evaluation (marts.tier_summary)."""
    rows = fetch_all(
        con,
        "select tier_code, tier_name, customers_count, cast(revenue as double) from marts.tier_summary "
        "where evaluation_month = ? order by tier_rank desc, tier_code",
        [ev.month],
    )
    customers = sum(int(row[2]) for row in rows)
    revenue = sum(float(row[3]) for row in rows)
    codes = [str(row[0]) for row in rows]
    svg = charts.grouped_bars(
        codes,
        {
            "% of customers": [_share(int(row[2]), customers) for row in rows],
            "% of revenue": [_share(float(row[3]), revenue) for row in rows],
        },
        title=f"Tier mix as of {ev.as_of_date}",
        y_label="% of the evaluation",
    )
    table = [
        [code, name, int(n), _share(int(n), customers), round(float(value), 2), _share(float(value), revenue)]
        for code, name, n, value in rows
    ]
    table.append(["total", "", customers, 100.0 if customers else 0.0, round(revenue, 2), 100.0])
    return Section(
        "Tier mix",
        svg,
        ["tier", "name", "customers", "% customers", "revenue (EUR, window)", "% revenue"],
        table,
        note=f"{customers:,} customers evaluated as of {ev.as_of_date}; revenue is the window's net revenue.",
    )


def _shown_positions(count: int, most: int = PARETO_POINTS) -> list[int]:
    """The 1-based ranks the curve is drawn through: all of them up to ``most``, else ``most``
    evenly spaced ones and the last."""
    if count <= most:
        return list(range(1, count + 1))
    step = count / most
    return [*(int(index * step) + 1 for index in range(most)), count]


def _pareto_points(con: Connection) -> tuple[int, list[tuple[float, float]]]:
    """How many customers have a positive measure, and (cumulative customer share, cumulative
    value share) over them at the ranks the chart shows.

    Picked in the warehouse, not in Python: at a million customers, fetching every point cost
    half a second of a report that draws 200 of them.
    """
    counted = fetch_all(con, "select count(*) from marts.customer_tiers where measure_value > 0")
    count = int(counted[0][0]) if counted else 0
    if not count:
        return 0, []
    rows = fetch_all(
        con,
        """
        with ranked as (
            select row_number() over (order by measure_value desc, customer_id) as position,
                   count(*) over () as positive,
                   sum(measure_value) over (order by measure_value desc, customer_id) as running,
                   sum(measure_value) over () as total
            from marts.customer_tiers
            where measure_value > 0
        )
        select cast(position as double) / positive, cast(running / total as double)
        from ranked where position in (select unnest(?::bigint[])) order by position
        """,
        [_shown_positions(count)],
    )
    return count, [(float(x), float(y)) for x, y in rows]


def _class_rows(con: Connection) -> list[tuple[Any, ...]]:
    return fetch_all(
        con,
        """
        select abc_class, count(*) as customers, cast(sum(measure_value) as double) as value
        from marts.customer_tiers group by abc_class order by abc_class
        """,
    )


def pareto(con: Connection, ev: Evaluation, settings: Settings) -> Section:
    """The Pareto curve of the tier measure with the A/B/C cut-offs the classes were made with."""
    positive, points = _pareto_points(con)
    if not points:
        return not_yet("Pareto curve and ABC classes", "no customer has a positive measure value")
    rule_row = fetch_all(con, "select max(abc_method), max(measure_name) from marts.customer_tiers")[0]
    method, measure = str(rule_row[0]), str(rule_row[1])
    rules = rules_in_force(con, settings.dbt_project_dir)
    cutoffs = rules.get("abc_share_cutoffs" if method == "share" else "abc_rank_cutoffs") or {}
    axis: Literal["x", "y"] = "y" if method == "share" else "x"
    labels = {"a": "A|B", "b": "B|C"}
    guides = [
        charts.Guide(axis, float(cutoffs[key]), f"{labels[key]} at {cutoffs[key]}")
        for key in ("a", "b")
        if key in cutoffs
    ]
    shown = [(0.0, 0.0), *points]  # the curve starts at no customers, no value
    svg = charts.line_chart(
        [x for x, _ in shown],
        {"cumulative value share": [y for _, y in shown]},
        title=f"Pareto curve ({method} method)",
        x_label="cumulative share of customers (by value, highest first)",
        y_label="cumulative share of value",
        markers=False,
        guides=guides,
    )
    classes = _class_rows(con)
    customers = sum(int(row[1]) for row in classes)
    value = sum(float(row[2]) for row in classes)
    table = [
        [str(cls), int(n), _share(int(n), customers), round(float(v), 2), _share(float(v), value)]
        for cls, n, v in classes
    ]
    cut = ", ".join(f"{key} {cutoffs[key]}" for key in ("a", "b") if key in cutoffs)
    return Section(
        "Pareto curve and ABC classes",
        svg,
        ["class", "customers", "% customers", "measure value", "% value"],
        table,
        note=f"ABC method {method}, cut-offs {cut or 'unknown'} (dbt vars abc_method, abc_{method}_cutoffs); "
        f"value is the tier measure ({measure}, var tier_measure); {positive:,} customers with a "
        "positive value drawn.",
    )


def migration(con: Connection, ev: Evaluation) -> Section:
    """Customers by tier at the previous evaluation (rows) and at this one (columns)."""
    title = "Tier migration since the previous evaluation"
    if ev.previous_month is None:
        return not_yet(title, f"no previous evaluation before {ev.as_of_date} in customer_tier_history")
    rows = fetch_all(
        con,
        """
        with now_tiers as (
            select customer_id, tier_code from marts.customer_tier_history where evaluation_month = ?
        ),
        before_tiers as (
            select customer_id, tier_code from marts.customer_tier_history where evaluation_month = ?
        )
        select coalesce(before_tiers.tier_code, '(new)') as from_tier,
               coalesce(now_tiers.tier_code, '(gone)') as to_tier, count(*) as customers
        from before_tiers full outer join now_tiers on before_tiers.customer_id = now_tiers.customer_id
        group by 1, 2
        """,
        [ev.month, ev.previous_month],
    )
    tiers = [code for code, _ in tier_order(con)]
    counts = {(str(a), str(b)): int(n) for a, b, n in rows}
    sources = [t for t in tiers if any(key[0] == t for key in counts)] + (
        ["(new)"] if any(key[0] == "(new)" for key in counts) else []
    )
    targets = [t for t in tiers if any(key[1] == t for key in counts)] + (
        ["(gone)"] if any(key[1] == "(gone)" for key in counts) else []
    )
    grid = [[counts.get((a, b), 0) for b in targets] for a in sources]
    svg = charts.matrix_chart(
        sources,
        targets,
        grid,
        title=f"{ev.previous_as_of_date} → {ev.as_of_date}",
        x_label=f"tier as of {ev.as_of_date}",
        y_label=f"tier as of {ev.previous_as_of_date}",
    )
    table = [[a, *row, sum(row)] for a, row in zip(sources, grid, strict=True)]
    return Section(
        title,
        svg,
        ["from \\ to", *targets, "total"],
        table,
        note=_change_note(con, ev),
    )


def _change_note(con: Connection, ev: Evaluation) -> str:
    rows = fetch_all(
        con,
        "select change_type, count(*) from marts.tier_changes where as_of_date = ? group by 1 order by 1",
        [ev.as_of_date],
    )
    told = ", ".join(f"{kind} {int(n):,}" for kind, n in rows) or "none"
    return (
        f"Tier changes as of {ev.as_of_date} (marts.tier_changes): {told}. "
        "Diagonal: customers who kept their tier."
    )


def tier_history(con: Connection, ev: Evaluation) -> Section:
    """Customers per tier over the last evaluations (marts.tier_summary, from customer_tier_history)."""
    rows = fetch_all(
        con,
        """
        with months as (
            select distinct evaluation_month from marts.tier_summary
            where evaluation_month <= ? order by evaluation_month desc limit ?
        )
        select tier_summary.evaluation_month, max(tier_summary.as_of_date) over (
                   partition by tier_summary.evaluation_month) as as_of_date,
               tier_summary.tier_code, tier_summary.customers_count
        from marts.tier_summary inner join months using (evaluation_month)
        order by tier_summary.evaluation_month
        """,
        [ev.month, HISTORY_EVALUATIONS],
    )
    tiers = [code for code, _ in tier_order(con)]
    dates = sorted({str(row[1]) for row in rows})
    counts = {(str(row[1]), str(row[2])): int(row[3]) for row in rows}
    series = {tier: [counts.get((day, tier), 0) for day in dates] for tier in reversed(tiers)}
    svg = charts.stacked_bars(
        dates,
        series,
        title="Customers per tier by evaluation",
        y_label="customers",
        colours=tier_colours(tiers),
    )
    table = [[day, *(counts.get((day, tier), 0) for tier in tiers)] for day in dates]
    note = (
        ""
        if len(dates) > 1
        else "Only one evaluation so far: the history grows with each month end evaluated."
    )
    return Section("Tier mix over the last evaluations", svg, ["as of", *tiers], table, note=note)


def eligibility(con: Connection, ev: Evaluation) -> Section:
    """Customers by eligibility: eligible, or the reason they are not (marts.customer_tiers)."""
    rows = fetch_all(
        con,
        """
        select coalesce(ineligibility_reason, 'eligible') as reason, count(*) as customers
        from marts.customer_tiers group by 1 order by (reason = 'eligible') desc, 2 desc, 1
        """,
    )
    reasons = [str(reason) for reason, _ in rows]
    svg = charts.stacked_bars(
        reasons,
        {"customers": [int(n) for _, n in rows]},
        title=f"Eligibility as of {ev.as_of_date}",
        y_label="customers",
        colours={"customers": charts.PALETTE[0]},
    )
    table = [[reason, int(n), REASON_SETTINGS.get(reason, "")] for reason, n in rows]
    return Section(
        "Eligibility reasons",
        svg,
        ["eligibility", "customers", "what changes it"],
        table,
        note="An ineligible customer is placed at the lowest (unrated) tier whatever their value.",
    )


def _quarantine_rows(con: Connection) -> list[tuple[Any, ...]]:
    tables = list_tables(con, "quarantine")
    if not tables:
        return []
    union = " union all ".join(f"select source, reason from quarantine.{table}" for table in tables)
    return fetch_all(
        con, f"select source, reason, count(*) from ({union}) as held group by 1, 2 order by 1, 3 desc, 2"
    )


def _top_reasons(rows: Sequence[Sequence[Any]], sources: Sequence[str]) -> dict[str, list[int]]:
    """Rows per source for the most frequent reasons, the rest summed as "other reasons"."""
    totals: dict[str, int] = {}
    for _, reason, count in rows:
        totals[str(reason)] = totals.get(str(reason), 0) + int(count)
    top = sorted(totals, key=lambda reason: (-totals[reason], reason))[:QUARANTINE_REASONS_DRAWN]
    series = {reason: [0] * len(sources) for reason in top}
    for source, reason, count in rows:
        name = str(reason) if str(reason) in series else OTHER_REASONS
        series.setdefault(name, [0] * len(sources))[sources.index(str(source))] += int(count)
    return series


def quarantine(con: Connection) -> Section:
    """Rows held in quarantine by source and reason (the files' current loads)."""
    title = "Quarantined rows by source and reason"
    if not list_tables(con, "quarantine"):
        return not_yet(title, "nothing has been ingested into this warehouse")
    rows = _quarantine_rows(con)
    if not rows:
        return Section(title, note="No row is in quarantine: every row read was loaded.")
    sources = sorted({str(row[0]) for row in rows})
    svg = charts.stacked_bars(
        sources,
        _top_reasons(rows, sources),
        colours={OTHER_REASONS: UNRATED_COLOUR},
        title="Quarantined rows",
        x_label="rows",
        horizontal=True,
    )
    table = [[str(s), str(r), int(n)] for s, r, n in rows]
    return Section(
        title,
        svg,
        ["source", "reason", "rows"],
        table,
        note="Rows of the files as currently loaded (a file loaded again replaces its rows); "
        "details in the quarantine schema.",
    )


def _docs_link(settings: Settings, report_dir: Path) -> Link | None:
    # The project's constants, not the runner's: importing the runner would import GX (seconds).
    from tierwise.quality.docs_index import INDEX_NAME
    from tierwise.quality.project import DATA_DOCS_SITE, GX_DIR

    index = settings.expectations_dir / GX_DIR / "uncommitted" / "data_docs" / DATA_DOCS_SITE / INDEX_NAME
    if not index.is_file():
        return None
    return Link("Data Docs", os.path.relpath(index, report_dir))


# Outcome counts of each gate's latest validation.
GATE_OUTCOMES = """
        with latest as (
            select gate, max(validated_at) as validated_at from ops.quality_results group by gate
        )
        select results.gate, max(results.run_id), results.validated_at,
               count(*) filter (where outcome = 'passed'), count(*) filter (where outcome = 'warned'),
               count(*) filter (where outcome = 'failed'), count(*) filter (where outcome = 'error')
        from ops.quality_results as results inner join latest using (gate, validated_at)
        group by results.gate, results.validated_at order by results.gate
"""


def quality(con: Connection, settings: Settings, report_dir: Path) -> Section:
    """Pass / warn / fail / error per quality gate at its latest validation, linked to Data Docs."""
    title = "Quality gates"
    rows = rows_if_exists(con, "ops", "quality_results", GATE_OUTCOMES)
    if not rows:
        return not_yet(title, "no quality gate has run on this warehouse")
    gates = [str(row[0]) for row in rows]
    outcomes = list(OUTCOME_COLOURS)
    svg = charts.stacked_bars(
        gates,
        {outcome: [int(row[3 + index]) for row in rows] for index, outcome in enumerate(outcomes)},
        title="Expectations by outcome, latest validation per gate",
        x_label="expectations",
        colours=OUTCOME_COLOURS,
        horizontal=True,
    )
    docs = _docs_link(settings, report_dir)
    table = [
        [str(row[0]), str(row[2])[:19], *(int(n) for n in row[3:]), docs or "not rendered"] for row in rows
    ]
    return Section(
        title,
        svg,
        ["gate", "validated at", *outcomes, "Data Docs"],
        table,
        note="A failed critical expectation stops what depends on the gate; warnings are kept and shown.",
        links=(docs,) if docs else (),
    )


def quality_findings(con: Connection) -> Section:
    """The expectations that did not pass at each gate's latest validation (table only)."""
    title = "Quality checks that warned or failed"
    rows = rows_if_exists(
        con,
        "ops",
        "quality_results",
        """
        with latest as (
            select gate, max(validated_at) as validated_at from ops.quality_results group by gate
        )
        select results.gate, results.suite, coalesce(results.check_name, results.expectation_type),
               results.column_name, results.severity, results.outcome, results.unexpected_count
        from ops.quality_results as results inner join latest using (gate, validated_at)
        where results.outcome <> 'passed' order by 1, 2, 3
        """,
    )
    if rows is None:
        return not_yet(title, "no quality gate has run on this warehouse")
    if not rows:
        return Section(title, note="Every expectation passed at the latest validation of each gate.")
    table = [[*(mask(cell) if cell is not None else "" for cell in row[:6]), row[6]] for row in rows]
    return Section(
        title,
        table_headers=["gate", "suite", "check", "column", "severity", "outcome", "rows"],
        table_rows=table,
    )


PUBLISH_COUNTS = ("sent", "unchanged", "deleted", "rejected", "abandoned")


def publish_results(con: Connection) -> Section:
    """The latest publish attempt per destination (ops.sync_runs)."""
    title = "Publish results per destination"
    rows = rows_if_exists(
        con,
        "ops",
        "sync_runs",
        f"""
        select destination, run_id, status, started_at, total, {", ".join(PUBLISH_COUNTS)}, error
        from ops.sync_runs
        qualify row_number() over (partition by destination order by started_at desc, attempt desc) = 1
        order by destination
        """,
    )
    if not rows:
        return not_yet(title, "nothing has been published from this warehouse")
    destinations = [str(row[0]) for row in rows]
    svg = charts.stacked_bars(
        destinations,
        {name: [int(row[5 + index] or 0) for row in rows] for index, name in enumerate(PUBLISH_COUNTS)},
        title="Records per destination, latest attempt",
        x_label="records",
        horizontal=True,
    )
    table = [
        [str(row[0]), str(row[2]), str(row[3])[:19], *(int(n or 0) for n in row[4:10]), mask(row[10] or "")]
        for row in rows
    ]
    return Section(
        title,
        svg,
        ["destination", "status", "started", "total", *PUBLISH_COUNTS, "error"],
        table,
        note="Per destination, its latest attempt (ops.sync_runs); unchanged records are not sent again.",
    )


CLV_COLUMNS = (
    "model_name",
    "fit_status",
    "degenerate_reason",
    "n_customers",
    "log_likelihood",
    "aic",
    "iterations",
)


def clv_fit(con: Connection) -> Section:
    """The CLV models' fit diagnostics, and how many customers' CLV rests on the fit or a fallback."""
    title = "CLV fit diagnostics"
    if not table_exists(con, "marts", "clv_fit_diagnostics"):
        return not_yet(title, "marts.clv_fit_diagnostics has not been built")
    fits = fetch_all(
        con, f"select {', '.join(CLV_COLUMNS)}, parameters_json from marts.clv_fit_diagnostics order by 1"
    )
    bases = fetch_all(
        con,
        """
        select 'purchases' as part, coalesce(purchases_basis, 'no purchase') as basis, count(*)
        from marts.customer_value group by 2
        union all
        select 'spend', coalesce(spend_basis, 'no purchase'), count(*) from marts.customer_value group by 2
        order by 1, 2
        """,
    )
    parts = sorted({str(row[0]) for row in bases})
    kinds = sorted({str(row[1]) for row in bases})
    counts = {(str(p), str(k)): int(n) for p, k, n in bases}
    svg = charts.stacked_bars(
        parts,
        {kind: [counts.get((part, kind), 0) for part in parts] for kind in kinds},
        title="Customers by basis of their predicted CLV",
        x_label="customers",
        horizontal=True,
    )
    table = [[*(_cell(value) for value in row[:7]), _params(row[7])] for row in fits]
    told = "; ".join(f"{part} {kind}: {n:,}" for (part, kind), n in sorted(counts.items()))
    return Section(
        title,
        svg,
        [
            "model",
            "status",
            "why not converged",
            "customers",
            "log-likelihood",
            "AIC",
            "iterations",
            "parameters",
        ],
        table,
        note=f"Basis of the predicted CLV per customer (marts.customer_value): {told}.",
    )


def _cell(value: Any) -> str | int | float | None:
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _params(raw: Any) -> str:
    if not raw:
        return ""
    try:
        values = json.loads(str(raw))
    except ValueError:
        return str(raw)
    return ", ".join(
        f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}"
        for name, value in values.items()
    )


def stages(results: Sequence[Any]) -> Section:
    """The run's stages and their one-line reports (table only)."""
    if not results:
        return Section("Run stages", note="This report was written outside a run: no stage results.")
    table = [[result.stage.value, mask(result.line), round(float(result.elapsed), 1)] for result in results]
    return Section("Run stages", table_headers=["stage", "result", "seconds"], table_rows=table)


# --- the page ------------------------------------------------------------------------------------


def build_sections(
    con: Connection, settings: Settings, results: Sequence[Any], report_dir: Path
) -> list[Section]:
    """Every section of the run report, each built on its own (one failing shows its error)."""
    ev = evaluation(con)
    if ev is None:
        return [stages(results), not_yet("Tiers", "the marts have not been built in this warehouse")]
    parts: list[tuple[str, Callable[[], Section]]] = [
        ("Tier mix", lambda: tier_mix(con, ev)),
        ("Pareto curve and ABC classes", lambda: pareto(con, ev, settings)),
        ("Tier migration since the previous evaluation", lambda: migration(con, ev)),
        ("Tier mix over the last evaluations", lambda: tier_history(con, ev)),
        ("Eligibility reasons", lambda: eligibility(con, ev)),
        ("Quarantined rows by source and reason", lambda: quarantine(con)),
        ("Quality gates", lambda: quality(con, settings, report_dir)),
        ("Quality checks that warned or failed", lambda: quality_findings(con)),
        ("Publish results per destination", lambda: publish_results(con)),
        ("CLV fit diagnostics", lambda: clv_fit(con)),
    ]
    return [stages(results), *(section_or_error(title, build) for title, build in parts)]


def _subtitle(con: Connection, ctx: RunContext) -> tuple[str, str]:
    """The evaluation date the report is filed under, and the line under its title."""
    ev = evaluation(con)
    as_of = str(ev.as_of_date) if ev else str(ctx.as_of_date or "not-built")
    told = f"evaluation as of {as_of}" if ev else "no evaluation built yet"
    return (
        as_of,
        f"Run {ctx.run_id} · {told} · engine {ctx.engine.name.value} · warehouse {ctx.engine.location}",
    )


def write_run_report(ctx: RunContext, results: Sequence[Any] = ()) -> ReportResult:
    """Write ``run-<as_of_date>.html`` and ``latest.html`` under ``<publish_dir>/reports``.

    Never raises for the data: a section that fails carries its error (listed in ``errors``).
    """
    started = time.perf_counter()
    settings = ctx.settings
    target_dir = reports_dir(settings)
    if not ctx.engine.exists():
        return ReportResult(None, None, ("the warehouse does not exist yet: no report written",))
    with ctx.engine.connect(read_only=True) as con:
        as_of, subtitle = _subtitle(con, ctx)
        sections = build_sections(con, settings, results, target_dir)
    page = render_page(f"Tierwise run report · {as_of}", subtitle, sections, footer=_FOOTER)
    path = write_page(report_path(settings, as_of), page)
    latest = write_page(latest_path(settings), page)
    errors = tuple(f"{section.title}: {section.error}" for section in sections if section.error)
    for error in errors:
        log.warning("run report section failed: %s", error)
    return ReportResult(path, latest, errors, time.perf_counter() - started, len(page.encode("utf-8")))


_FOOTER = (
    "Written by Tierwise at the end of the run from the marts and ops tables of the warehouse. "
    "Self-contained: opens offline. No personal data (e-mail, phone, name) is shown."
)
