"""The expectation suites of the two quality gates, as code.

These functions are the source of the committed JSON under ``expectations/gx/`` (written by
``python -m tierwise.quality.project``); gate runs read the JSON, never this module. Values a
user tunes are not literals here: built-in expectations take ``$PARAMETER`` references and the
SQL checks read ``getvariable('tw_<name>')`` (DuckDB session variables; a session function on
Spark, see ``gx_spark.py``); both are filled per run from ``expectations/thresholds.yml``,
``schema.py`` and the warehouse (see ``parameters.py``). The SQL checks run on DuckDB and on
Spark as written, so they keep to SQL both engines read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tierwise.schema import ENTITIES

if TYPE_CHECKING:
    from great_expectations.expectations.expectation import Expectation

CRITICAL = "critical"
WARNING = "warning"

EMAIL_REGEX = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
PHONE_REGEX = r"^\+?\(?[0-9][0-9 ()./-]{5,18}[0-9]$"
ABC_CLASSES = ["A", "B", "C"]


@dataclass(frozen=True)
class SuiteSpec:
    """One suite: the table it validates and the columns that identify a failing row."""

    gate: str
    schema: str
    table: str
    index_columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


_RAW_INDEX = ("_source_file", "_source_line")
SUITES: dict[str, tuple[SuiteSpec, ...]] = {
    "raw": tuple(SuiteSpec("raw", "raw", table, _RAW_INDEX) for table in ENTITIES),
    "marts": tuple(
        SuiteSpec("marts", "marts", table, ("customer_id",)) for table in ("customer_value", "customer_tiers")
    ),
}


def param(name: str) -> dict[str, str]:
    """A suite parameter reference, resolved from the run's expectation parameters."""
    return {"$PARAMETER": name}


def _meta(check: str) -> dict[str, Any]:
    # A stable short name: reports, logs and ops.quality_results refer to checks by it.
    return {"check": check}


def _gx() -> Any:
    import great_expectations.expectations as gxe

    return gxe


def _not_null(table: str, columns: tuple[str, ...]) -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_meta(f"{table}.{column}_present"))
        for column in columns
    ]


def _unique(table: str, column: str) -> Expectation:
    return _gx().ExpectColumnValuesToBeUnique(  # type: ignore[no-any-return]
        column=column, meta=_meta(f"{table}.{column}_unique")
    )


def _in_set(table: str, column: str, parameter: str, severity: str = CRITICAL) -> Expectation:
    return _gx().ExpectColumnValuesToBeInSet(  # type: ignore[no-any-return]
        column=column, value_set=param(parameter), severity=severity, meta=_meta(f"{table}.{column}_allowed")
    )


def _volume(table: str) -> Expectation:
    return _gx().ExpectTableRowCountToBeBetween(  # type: ignore[no-any-return]
        min_value=param(f"{table}_min_rows"),
        description="Row count does not collapse against the previous raw gate (volume anomaly).",
        meta=_meta(f"{table}.volume"),
    )


def _keys_unique(table: str, key: list[str]) -> Expectation:
    return _gx().ExpectCompoundColumnsToBeUnique(  # type: ignore[no-any-return]
        column_list=["_source_file", *key, "updated_at"],
        description="A record version (key + updated_at) appears once per source file.",
        meta=_meta(f"{table}.key_unique_per_file"),
    )


def _fresh(table: str) -> Expectation:
    return _gx().ExpectColumnMaxToBeBetween(  # type: ignore[no-any-return]
        column="updated_at",
        min_value=param(f"{table}_fresh_after"),
        description="The newest record is recent relative to the evaluation date (freshness).",
        meta=_meta(f"{table}.fresh"),
    )


def _not_before_earliest(table: str, column: str) -> Expectation:
    return _gx().ExpectColumnValuesToBeBetween(  # type: ignore[no-any-return]
        column=column, min_value=param("earliest_timestamp"), meta=_meta(f"{table}.{column}_plausible")
    )


def _amount(table: str, column: str) -> Expectation:
    return _gx().ExpectColumnValuesToBeBetween(  # type: ignore[no-any-return]
        column=column,
        min_value=0,
        max_value=param("max_amount"),
        strict_max=True,
        meta=_meta(f"{table}.{column}_plausible"),
    )


def _not_after_file_date(table: str, columns: tuple[str, ...]) -> Expectation:
    later = " or ".join(f"{column} >= _file_date + interval 2 day" for column in columns)
    selected = ", ".join(("_source_file", "_source_line", "_file_date", *columns))
    return _gx().UnexpectedRowsExpectation(  # type: ignore[no-any-return]
        unexpected_rows_query=f"select {selected} from {{batch}} where {later}",
        description=f"{', '.join(columns)} not after the export date + 1 day.",
        meta=_meta(f"{table}.dates_not_after_export"),
    )


def _format_pair(table: str, column: str, regex: str) -> list[Expectation]:
    """Warn above one dirty-row rate, fail above a higher one (thresholds.yml formats)."""
    gxe = _gx()
    return [
        gxe.ExpectColumnValuesToMatchRegex(
            column=column,
            regex=regex,
            mostly=param(f"{column}_{level}_mostly"),
            severity=severity,
            meta=_meta(f"{table}.{column}_format_{level}"),
        )
        for level, severity in (("warn", WARNING), ("fail", CRITICAL))
    ]


def _orders() -> list[Expectation]:
    gxe = _gx()
    required = ("order_id", "customer_id", "ordered_at", "status", "currency", "gross_amount")
    return [
        _volume("orders"),
        _keys_unique("orders", ["order_id", "line_no"]),
        *_not_null("orders", required),
        _in_set("orders", "status", "order_statuses"),
        _in_set("orders", "currency", "currencies"),
        _in_set("orders", "payment_method", "payment_methods", WARNING),
        *(_amount("orders", c) for c in ("gross_amount", "discount_amount", "refunded_amount")),
        _not_before_earliest("orders", "ordered_at"),
        _not_after_file_date("orders", ("ordered_at", "updated_at")),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select _source_file, _source_line, order_id, gross_amount, discount_amount, refunded_amount"
                " from {batch} where status <> 'cancelled'"
                " and gross_amount - coalesce(discount_amount, 0) - coalesce(refunded_amount, 0) < 0"
            ),
            description="Discounts and refunds do not exceed the gross amount.",
            severity=WARNING,
            meta=_meta("orders.net_amount_not_negative"),
        ),
        _fresh("orders"),
    ]


def _contacts() -> list[Expectation]:
    required = ("customer_id", "account_type", "status", "signup_date", "updated_at")
    return [
        _volume("contacts"),
        _keys_unique("contacts", ["customer_id"]),
        *_not_null("contacts", required),
        _in_set("contacts", "status", "contact_statuses"),
        _in_set("contacts", "account_type", "account_types"),
        *_format_pair("contacts", "email", EMAIL_REGEX),
        *_format_pair("contacts", "phone", PHONE_REGEX),
        _not_before_earliest("contacts", "signup_date"),
        _not_after_file_date("contacts", ("signup_date", "updated_at")),
        _fresh("contacts"),
    ]


def _tickets() -> list[Expectation]:
    gxe = _gx()
    return [
        _volume("tickets"),
        _keys_unique("tickets", ["ticket_id"]),
        *_not_null("tickets", ("ticket_id", "customer_id", "opened_at", "category")),
        _in_set("tickets", "category", "ticket_categories"),
        _in_set("tickets", "severity", "ticket_severities", WARNING),
        _in_set("tickets", "status", "ticket_statuses", WARNING),
        _not_before_earliest("tickets", "opened_at"),
        _not_after_file_date("tickets", ("opened_at", "updated_at")),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select _source_file, _source_line, ticket_id, opened_at, resolved_at"
                " from {batch} where resolved_at < opened_at"
            ),
            description="A ticket is not resolved before it was opened.",
            severity=WARNING,
            meta=_meta("tickets.resolved_after_opened"),
        ),
        _fresh("tickets"),
    ]


def _customer_value() -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta("customer_value.not_empty")),
        *_not_null("customer_value", ("customer_id",)),
        _unique("customer_value", "customer_id"),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select mart_net_revenue, staged_net_revenue,"
                " mart_net_revenue - staged_net_revenue as difference"
                " from (select coalesce(sum(net_revenue), 0) as mart_net_revenue from {batch}) as mart"
                " cross join (select getvariable('tw_staged_net_revenue') as staged_net_revenue) as staged"
                " where abs(mart_net_revenue - staged_net_revenue) > getvariable('tw_revenue_abs_tolerance')"
            ),
            description=(
                "Revenue reconciliation: sum(net_revenue) equals the staged net revenue"
                " (thresholds.yml marts.revenue) within the tolerance."
            ),
            meta=_meta("customer_value.revenue_reconciles"),
        ),
        gxe.UnexpectedRowsExpectation(
            # The check runs on whichever optional columns the mart has: inside the lateral
            # subquery a name resolves to the mart's column first and to the outer NULL default
            # only when the mart lacks it. Plain SQL that DuckDB and Spark read alike (Spark has
            # no UNION BY NAME), so one query serves both engines.
            unexpected_rows_query=(
                "select checked.* from (select null as historic_clv, null as predicted_clv,"
                " null as probability_alive) as optional"
                " cross join lateral (select customer_id, historic_clv, predicted_clv, probability_alive"
                " from {batch} where predicted_clv < 0 or probability_alive not between 0 and 1) as checked"
            ),
            # historic_clv is realised value (net revenue x margin): negative for a below-zero
            # customer whose refunds exceed purchases, which real exports have (is_below_zero).
            description=(
                "Predicted CLV not negative and probability_alive in [0, 1], where those columns exist;"
                " historic CLV may be negative (below-zero customers)."
            ),
            meta=_meta("customer_value.clv_in_range"),
        ),
        _clv_fits_converged(),
    ]


def _clv_fits_converged() -> Expectation:
    # A warning, not a failure: a degenerate or failed fit is what the data support, and
    # predicted CLV then follows the documented historic fallback; the tiers stay publishable.
    return _gx().UnexpectedRowsExpectation(  # type: ignore[no-any-return]
        unexpected_rows_query=(
            "select fits.model_name, fits.fit_status, fits.degenerate_reason, fits.optimizer_message"
            " from marts.clv_fit_diagnostics as fits"
            " where fits.fit_status <> 'converged'"
            " and fits.as_of_date in (select as_of_date from {batch})"
        ),
        description=(
            "The CLV models of this evaluation converged to sound estimates; otherwise predicted CLV"
            " uses the historic fallback (purchases_basis, spend_basis) and clv_fit_diagnostics says why."
        ),
        severity=WARNING,
        meta=_meta("customer_value.clv_fits_converged"),
    )


def _customer_tiers() -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta("customer_tiers.not_empty")),
        *_not_null("customer_tiers", ("customer_id",)),
        _unique("customer_tiers", "customer_id"),
        _in_set("customer_tiers", "tier_code", "tier_codes"),
        gxe.ExpectColumnValuesToBeInSet(
            column="abc_class", value_set=ABC_CLASSES, meta=_meta("customer_tiers.abc_class_allowed")
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select customer_id, is_eligible, tier_code, ineligibility_reason"
                " from {batch} where is_eligible and tier_code is null"
            ),
            description="Every eligible customer has a tier.",
            meta=_meta("customer_tiers.eligible_tiered"),
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select customer_value.customer_id from marts.customer_value"
                " anti join {batch} as tiers on tiers.customer_id = customer_value.customer_id"
            ),
            description="Every customer of marts.customer_value has a row in customer_tiers.",
            meta=_meta("customer_tiers.every_customer_present"),
        ),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select a_customers, classified_customers, a_share"
                " from (select count(*) filter (where abc_class = 'A') as a_customers,"
                " count(abc_class) as classified_customers,"
                " a_customers / nullif(classified_customers, 0) as a_share from {batch}) as shares"
                " where a_share is null"
                " or a_share not between getvariable('tw_a_share_min') and getvariable('tw_a_share_max')"
            ),
            description="The share of classified customers in ABC class A is within thresholds.yml a_share.",
            meta=_meta("customer_tiers.a_share_in_bounds"),
        ),
    ]


_BUILDERS = {
    "raw.orders": _orders,
    "raw.contacts": _contacts,
    "raw.tickets": _tickets,
    "marts.customer_value": _customer_value,
    "marts.customer_tiers": _customer_tiers,
}


def expectations_for(suite_name: str) -> list[Expectation]:
    """Fresh GX expectation objects of one suite."""
    return _BUILDERS[suite_name]()
