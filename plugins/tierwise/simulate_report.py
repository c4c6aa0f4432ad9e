"""The page of a what-if simulation, from its summary.json figures, with the shared report blocks.

Every chart has its numbers in a table beside it, so the page reads without the pictures; customers
appear by id only (no contact details reach a simulation's figures).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tierwise.reporting.charts import grouped_bars, matrix_chart
from tierwise.reporting.page import Section, render_page

LISTED = 200  # customers listed per section; changes.csv has them all


def _mix(summary: Mapping[str, Any], measure: str, title: str) -> Section:
    tiers = summary["tier_mix"]
    codes = [str(tier["tier_code"]) for tier in tiers]
    number = int if measure == "customers" else float  # counts read as counts in the table
    now = [number(tier[f"now_{measure}"]) for tier in tiers]
    proposed = [number(tier[f"proposed_{measure}"]) for tier in tiers]
    return Section(
        title=title,
        svg=grouped_bars(codes, {"now": now, "proposed": proposed}, title=title, y_label=measure),
        table_headers=("tier", f"now {measure}", f"proposed {measure}", "difference"),
        table_rows=[
            (code, before, after, after - before)
            for code, before, after in zip(codes, now, proposed, strict=True)
        ],
    )


def _matrix(summary: Mapping[str, Any]) -> Section:
    cells = summary["migration_matrix"]
    order = [str(tier["tier_code"]) for tier in summary["tier_mix"]]
    rows = [code for code in order if any(cell["now"] == code for cell in cells)]
    columns = [code for code in order if any(cell["proposed"] == code for cell in cells)]
    counts = {(cell["now"], cell["proposed"]): cell["customers"] for cell in cells}
    grid = [[counts.get((row, column), 0) for column in columns] for row in rows]
    return Section(
        title="Migration: tier now (rows) to proposed tier (columns)",
        svg=matrix_chart(rows, columns, grid, x_label="proposed tier", y_label="tier now"),
        table_headers=("tier now", *columns),
        table_rows=[(row, *values) for row, values in zip(rows, grid, strict=True)],
    )


def _listing(
    title: str, rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str], note: str = ""
) -> Section:
    """A table of customers: ``columns`` maps each key of the rows to its heading."""
    more = f"The first {LISTED} of {len(rows)}; changes.csv and summary.json list every one. "
    return Section(
        title=f"{title} ({len(rows)})",
        table_headers=tuple(columns.values()),
        table_rows=[tuple(row[key] for key in columns) for row in rows[:LISTED]],
        note=(more if len(rows) > LISTED else "") + note,
    )


MOVES = {
    "customer_id": "customer",
    "now_tier_code": "tier now",
    "proposed_tier_code": "proposed tier",
    "now_measure_value": "measure now",
    "proposed_measure_value": "measure proposed",
    "proposed_tier_rule": "rule proposed",
}
NOTIFIED = {
    "customer_id": "customer",
    "from_tier_code": "from",
    "to_tier_code": "to",
    "change_type": "change",
    "reason": "reason",
}
REACH = {
    "customer_id": "customer",
    "tier_code": "tier",
    "next_tier_code": "next tier",
    "gap": "gap (EUR)",
    "next_tier_min_value": "next tier's threshold",
}


def _moves(changes: Sequence[Mapping[str, Any]], direction: str) -> Section:
    moving = [change for change in changes if change["direction"] == direction]
    return _listing(f"Customers moving {direction}", moving, MOVES)


def _notifications(summary: Mapping[str, Any]) -> Section:
    told = summary["notifications"]
    return _listing(
        f"Notifications it would send (now {told['now']}, proposed)",
        told["changes"],
        NOTIFIED,
        "Tier changes of this evaluation the notifications destination finds worth a message "
        "(its change types; moves between unrated and the entry tier are not sent).",
    )


def _within_reach(summary: Mapping[str, Any]) -> Section:
    ratio = summary["growable_gap_ratio"]["proposed"]
    return _listing(
        "Newly within reach of the next tier",
        summary["newly_within_reach_customers"],
        REACH,
        f"Eligible customers whose gap to the next tier is at most {ratio:g} of its threshold "
        "(var growable_gap_ratio) under the proposed rules and was not under the current ones.",
    )


def render(summary: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> str:
    """The whole page."""
    moves = summary["moves"]
    sections = [
        _mix(summary, "customers", "Customers per tier, now and proposed"),
        _mix(summary, "revenue", "Revenue per tier (EUR, evaluation window), now and proposed"),
        _matrix(summary),
        _moves(changes, "up"),
        _moves(changes, "down"),
        _notifications(summary),
        _within_reach(summary),
    ]
    subtitle = (
        f"Evaluation as of {summary['as_of_date']}: {moves['changed']} of {summary['customers']} customers "
        f"would change tier ({moves['up']} up, {moves['down']} down). "
        f"Ladder: {summary['ladder'] or 'the live one'}; "
        f"vars: {summary['proposed_vars']}. Nothing was published and the live warehouse is unchanged."
    )
    return render_page(
        "Tierwise what-if simulation", subtitle, sections, footer="changes.csv and summary.json beside"
    )
