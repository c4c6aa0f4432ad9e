"""One customer explained for the service desk: why this tier, and what would change it.

Everything is read from the marts and the publish state, never recomputed: the answer must be
what the pipeline decided, including a downgrade grace or a rule that has since changed (the
history keeps the rule text of each evaluation). Personal columns (e-mail, phone, name) are
never read, so no output can show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tierwise import build_state
from tierwise.engine import Connection, Engine, column_names, fetch_all, table_exists
from tierwise.exceptions import TierwiseError
from tierwise.masking import PERSONAL_COLUMNS
from tierwise.names import REASON_SETTINGS

Row = dict[str, Any]

# The columns of customer_tier_history that explain one evaluation.
EVALUATION_COLUMNS = (
    "customer_id",
    "as_of_date",
    "evaluation_month",
    "tier_code",
    "tier_name",
    "tier_rank",
    "tier_rule",
    "earned_tier_code",
    "grace_evaluations_used",
    "previous_tier_code",
    "measure_name",
    "measure_value",
    "measure_orders",
    "window_net_revenue",
    "revenue_share",
    "cumulative_share",
    "abc_method",
    "abc_class",
    "is_eligible",
    "ineligibility_reason",
    "tenure_months",
    "next_tier_code",
    "next_tier_min_value",
    "gap_to_next_tier",
    "orders_gap_to_next_tier",
)
VALUE_COLUMNS = (
    "as_of_date",
    "orders_count",
    "net_revenue",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_cell",
    "rfm_segment",
    "historic_clv",
    "predicted_clv",
    "probability_alive",
    "predicted_purchases",
    "expected_avg_spend",
    "purchases_basis",
    "spend_basis",
    "clv_horizon_months",
)
PROFILE_COLUMNS = (
    "has_crm_record",
    "account_type",
    "contact_status",
    "is_verified",
    "is_deleted",
    "signup_date",
    "region",
    "country",
    "industry",
)
HISTORY_COLUMNS = (
    "as_of_date",
    "tier_code",
    "abc_class",
    "measure_value",
    "measure_orders",
    "is_eligible",
    "tier_rule",
)
CHANGE_COLUMNS = ("change_key", "as_of_date", "from_tier_code", "to_tier_code", "change_type", "reason")
NOTIFICATION_DESTINATIONS = "notifications.%"
HISTORY = ("marts", "customer_tier_history")


class UnknownCustomerError(TierwiseError):
    """The customer id is in no evaluation of the warehouse."""


class UnknownEvaluationError(TierwiseError):
    """The customer has no evaluation in the month asked for."""


def _rows(con: Connection, names: Sequence[str], sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """The rows of ``sql`` as dicts; ``names`` are its columns, in order."""
    return [dict(zip(names, row, strict=True)) for row in fetch_all(con, sql, list(params))]


def _present(con: Connection, schema: str, table: str, wanted: Sequence[str]) -> list[str]:
    """The wanted columns the table has (a mart of an older build may lack some), never personal ones."""
    present = set(column_names(con, schema, table))
    return [name for name in wanted if name in present and name not in PERSONAL_COLUMNS]


def _read(
    con: Connection, table: tuple[str, str], wanted: Sequence[str], where: str, params: Sequence[Any]
) -> list[Row]:
    """The wanted columns of ``schema.table`` for the rows ``where`` selects."""
    names = _present(con, *table, wanted)
    sql = f"select {', '.join(names)} from {table[0]}.{table[1]} where {where}"
    return _rows(con, names, sql, params)


def _similar_ids(con: Connection, customer_id: str) -> list[str]:
    rows = fetch_all(
        con,
        "select customer_id from (select distinct customer_id from marts.customer_tier_history) "
        "order by jaro_winkler_similarity(lower(customer_id), lower(?)) desc, customer_id limit 3",
        [customer_id],
    )
    return [str(row[0]) for row in rows]


def _evaluation_dates(con: Connection, customer_id: str) -> list[date]:
    rows = fetch_all(
        con,
        "select as_of_date from marts.customer_tier_history where customer_id = ? order by as_of_date",
        [customer_id],
    )
    return [row[0] for row in rows]


def _current_as_of(con: Connection) -> date | None:
    """The evaluation customer_tiers holds (what was last built and is published)."""
    row = fetch_all(con, "select max(as_of_date) from marts.customer_tiers")
    return row[0][0] if row else None


def pick_evaluation(dates: Sequence[date], as_of: date | None, current: date | None) -> date | None:
    """The evaluation to explain: the one in ``as_of``'s month, else the current one, else the latest."""
    if as_of is not None:
        return next((day for day in dates if (day.year, day.month) == (as_of.year, as_of.month)), None)
    if current in dates:
        return current
    return dates[-1] if dates else None


def _evaluation(con: Connection, customer_id: str, as_of: date | None) -> Row:
    dates = _evaluation_dates(con, customer_id)
    if not dates:
        hint = ", ".join(_similar_ids(con, customer_id)) or "none: build the marts first (tierwise build)"
        raise UnknownCustomerError(
            f"no customer {customer_id!r} in any evaluation (marts.customer_tier_history); "
            f"closest ids: {hint}"
        )
    chosen = pick_evaluation(dates, as_of, _current_as_of(con))
    if chosen is None:
        shown = ", ".join(str(day) for day in dates)
        raise UnknownEvaluationError(
            f"customer {customer_id} has no evaluation in the month of {as_of}; evaluations: {shown}"
        )
    return _read(
        con, HISTORY, EVALUATION_COLUMNS, "customer_id = ? and as_of_date = ?", [customer_id, chosen]
    )[0]


def _ladder(con: Connection) -> list[Row]:
    if not table_exists(con, "intermediate", "int_tier_ladder_validated"):
        return []
    names = ("tier_code", "tier_name", "tier_rank", "min_value", "min_orders")
    sql = f"select {', '.join(names)} from intermediate.int_tier_ladder_validated order by tier_rank desc"
    return _rows(con, names, sql)


def abc_cutoffs(rules: dict[str, Any], method: str | None) -> dict[str, Any]:
    """The cut-offs of the ABC method in use (cumulative: A below a, B below b, C the rest)."""
    name = "abc_rank_cutoffs" if method == "rank" else "abc_share_cutoffs"
    return {"var": name, **dict(rules.get(name) or {})}


def tier_rule(evaluation: Row, ladder: Sequence[Row]) -> Row:
    """The ladder row of the tier held, against the customer's measure and orders."""
    held = next((step for step in ladder if step["tier_code"] == evaluation["tier_code"]), {})
    return {
        "tier_code": evaluation["tier_code"],
        "tier_name": evaluation.get("tier_name"),
        "rule": evaluation.get("tier_rule"),
        "earned_tier_code": evaluation.get("earned_tier_code"),
        "in_grace": evaluation.get("earned_tier_code") not in (None, evaluation["tier_code"]),
        "grace_evaluations_used": evaluation.get("grace_evaluations_used"),
        "measure_name": evaluation.get("measure_name"),
        "measure_value": evaluation.get("measure_value"),
        "measure_orders": evaluation.get("measure_orders"),
        "min_value": held.get("min_value"),
        "min_orders": held.get("min_orders"),
    }


def eligibility(evaluation: Row) -> Row:
    """Eligible or not, why, and the setting that decides it."""
    reason = evaluation.get("ineligibility_reason")
    return {
        "is_eligible": evaluation.get("is_eligible"),
        "reason": reason,
        "setting": REASON_SETTINGS.get(str(reason)) if reason else None,
        "tenure_months": evaluation.get("tenure_months"),
    }


def next_tier(evaluation: Row, ladder: Sequence[Row]) -> Row | None:
    """The next tier up and what the customer lacks to reach it (none for the ineligible or the top)."""
    code = evaluation.get("next_tier_code")
    if code is None:
        return None
    step = next((step for step in ladder if step["tier_code"] == code), {})
    return {
        "tier_code": code,
        "tier_name": step.get("tier_name"),
        "min_value": evaluation.get("next_tier_min_value", step.get("min_value")),
        "min_orders": step.get("min_orders"),
        "value_gap": evaluation.get("gap_to_next_tier"),
        "orders_gap": evaluation.get("orders_gap_to_next_tier"),
    }


def abc(evaluation: Row, rules: dict[str, Any]) -> Row:
    return {
        "abc_class": evaluation.get("abc_class"),
        "method": evaluation.get("abc_method"),
        "revenue_share": evaluation.get("revenue_share"),
        "cumulative_share": evaluation.get("cumulative_share"),
        "cutoffs": abc_cutoffs(rules, evaluation.get("abc_method")),
    }


def _history(con: Connection, customer_id: str, as_of: date) -> list[Row]:
    where = "customer_id = ? and as_of_date <= ? order by as_of_date desc"
    return _read(con, HISTORY, HISTORY_COLUMNS, where, [customer_id, as_of])


def _value(con: Connection, customer_id: str) -> Row | None:
    if not table_exists(con, "marts", "customer_value"):
        return None
    found = _read(con, ("marts", "customer_value"), VALUE_COLUMNS, "customer_id = ?", [customer_id])
    return found[0] if found else None


def _profile(con: Connection, customer_id: str) -> Row | None:
    if not table_exists(con, "marts", "customers"):
        return None
    found = _read(con, ("marts", "customers"), PROFILE_COLUMNS, "customer_id = ?", [customer_id])
    return found[0] if found else None


def _changes(con: Connection, customer_id: str, as_of: date, limit: int) -> list[Row]:
    if not table_exists(con, "marts", "tier_changes"):
        return []
    where = "customer_id = ? and as_of_date <= ? order by as_of_date desc limit ?"
    return _read(con, ("marts", "tier_changes"), CHANGE_COLUMNS, where, [customer_id, as_of, limit])


def _notifications(con: Connection, customer_id: str) -> list[Row]:
    """Tier-change messages a channel accepted for this customer (ops.sync_state, keyed by change_key).

    The change keys come from the revision log when there is one: a retracted event has left the
    mart, but its notification went out.
    """
    if not table_exists(con, "ops", "sync_state"):
        return []
    events = "ops.tier_change_revisions" if table_exists(con, "ops", "tier_change_revisions") else None
    events = events or ("marts.tier_changes" if table_exists(con, "marts", "tier_changes") else None)
    if events is None:
        return []
    names = ("channel", "change_key", "status", "sent_at", "run_id")
    sql = f"""
        select st.destination as channel, st.record_key as change_key, st.status,
            st.updated_at as sent_at, st.last_run_id as run_id
        from ops.sync_state as st
        where st.destination like ? and st.last_sent_hash is not null
            and st.record_key in (select change_key from {events} where customer_id = ?)
        order by st.updated_at desc, st.destination
    """
    return _rows(con, names, sql, [NOTIFICATION_DESTINATIONS, customer_id])


def explain(
    engine: Engine, customer_id: str, *, project_dir: Path, as_of: date | None = None, changes: int = 10
) -> Row:
    """Everything the warehouse says about one customer at one evaluation, as JSON-able values."""
    if not engine.exists():
        raise TierwiseError(f"warehouse {engine.location} does not exist: run tierwise run (or build) first")
    with engine.connect(read_only=True) as con:
        if not table_exists(con, *HISTORY):
            raise TierwiseError(
                "marts.customer_tier_history does not exist: build the marts (tierwise build)"
            )
        evaluation = _evaluation(con, customer_id, as_of)
        ladder, chosen = _ladder(con), evaluation["as_of_date"]
        explained = {
            "customer_id": customer_id,
            "as_of_date": chosen,
            "tier": tier_rule(evaluation, ladder),
            "abc": abc(evaluation, build_state.rules_in_force(con, project_dir)),
            "eligibility": eligibility(evaluation),
            "next_tier": next_tier(evaluation, ladder),
            "profile": _profile(con, customer_id),
            "value": _value(con, customer_id),
            "history": _history(con, customer_id, chosen),
            "changes": _changes(con, customer_id, chosen, changes),
            "notifications": _notifications(con, customer_id),
        }
    result: Row = jsonable(explained)
    return result


def jsonable(value: Any) -> Any:
    """Dates as ISO text, decimals as numbers, recursively (what ``--json`` prints)."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _money(value: Any) -> str:
    return "-" if value is None else f"{float(value):,.2f}"


def _share(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def _tier_lines(tier: Row) -> list[str]:
    lines = [f"Tier        {tier['tier_name'] or tier['tier_code']} ({tier['tier_code']})"]
    lines.append(f"  rule      {tier['rule']}")
    if tier["min_value"] is not None:
        lines.append(
            f"  ladder    min {tier['measure_name']} {_money(tier['min_value'])}, "
            f"min orders {tier['min_orders']}"
            f"; customer has {_money(tier['measure_value'])} and {tier['measure_orders']} orders"
        )
    if tier["in_grace"]:
        lines.append(
            f"  grace     earned {tier['earned_tier_code']}, keeps {tier['tier_code']} "
            f"(grace evaluation {tier['grace_evaluations_used']})"
        )
    return lines


def _abc_lines(found: Row) -> list[str]:
    cutoffs = found["cutoffs"]
    limits = ", ".join(f"{key} {value}" for key, value in cutoffs.items() if key != "var")
    return [
        f"ABC class   {found['abc_class']} (method {found['method']}: "
        f"own share {_share(found['revenue_share'])}, "
        f"cumulative {_share(found['cumulative_share'])}; cut-offs {limits} from var {cutoffs['var']})"
    ]


def _eligibility_lines(found: Row) -> list[str]:
    if found["is_eligible"]:
        return [f"Eligible    yes (tenure {found['tenure_months']} months)"]
    setting = f"; decided by {found['setting']}" if found["setting"] else ""
    return [f"Eligible    no: {found['reason']}{setting} (tenure {found['tenure_months']} months)"]


def _next_lines(found: Row | None) -> list[str]:
    if found is None:
        return ["Next tier   none (top tier, or not eligible)"]
    return [
        f"Next tier   {found['tier_name'] or found['tier_code']} ({found['tier_code']}): needs "
        f"{_money(found['min_value'])} and {found['min_orders']} orders; gap {_money(found['value_gap'])} "
        f"and {found['orders_gap']} orders"
    ]


def _value_lines(value: Row | None, as_of: str) -> list[str]:
    if value is None:
        return ["RFM / CLV   not in marts.customer_value"]
    note = "" if value.get("as_of_date") == as_of else f" (current evaluation {value.get('as_of_date')})"
    return [
        f"RFM{note}",
        f"  segment   {value.get('rfm_segment')} (cell {value.get('rfm_cell')}: R{value.get('r_score')} "
        f"F{value.get('f_score')} M{value.get('m_score')}); recency {value.get('recency_days')} days, "
        f"frequency {value.get('frequency')}, monetary {_money(value.get('monetary'))}",
        f"CLV         historic {_money(value.get('historic_clv'))}, "
        f"predicted {_money(value.get('predicted_clv'))} over {value.get('clv_horizon_months')} months "
        f"(basis: purchases {value.get('purchases_basis')}, spend {value.get('spend_basis')})",
    ]


def _table(title: str, rows: Sequence[Row], columns: Sequence[str]) -> list[str]:
    if not rows:
        return [f"{title}: none"]
    shown = (("-" if row.get(name) is None else str(row[name]) for name in columns) for row in rows)
    return [f"{title}:"] + ["  " + "  ".join(cells) for cells in shown]


# The lists of the text output: title, key of the explanation, columns shown.
TABLES = (
    ("Tier history", "history", ("as_of_date", "tier_code", "abc_class", "tier_rule")),
    ("Tier changes", "changes", ("as_of_date", "change_type", "from_tier_code", "to_tier_code")),
    ("Notifications sent", "notifications", ("sent_at", "channel", "change_key", "status")),
)


def render(explained: Row) -> str:
    """The explanation for a terminal."""
    profile = explained.get("profile") or {}
    head = f"Customer {explained['customer_id']}, evaluation as of {explained['as_of_date']}"
    if profile:
        head += f" ({profile.get('account_type')}, {profile.get('contact_status')}, {profile.get('country')})"
    lines = [head, ""]
    lines += _tier_lines(explained["tier"]) + _abc_lines(explained["abc"])
    lines += _eligibility_lines(explained["eligibility"]) + _next_lines(explained["next_tier"])
    lines += [*_value_lines(explained["value"], explained["as_of_date"]), ""]
    for title, key, columns in TABLES:
        lines += _table(title, explained[key], columns)
    return "\n".join(lines)
