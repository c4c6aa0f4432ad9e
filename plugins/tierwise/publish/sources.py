"""What each destination publishes: queries over the marts, and the evaluation date check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from tierwise.engine import table_exists
from tierwise.exceptions import PublishError
from tierwise.masking import PERSONAL_COLUMNS, get_logger
from tierwise.publish import revisions
from tierwise.publish.config import CrmConfig, NotificationConfig
from tierwise.publish.engine import Source
from tierwise.publish.state import notified_keys, quote

log = get_logger(__name__)

TIERS = ("marts", "customer_tiers")
CHANGES = ("marts", "tier_changes")
CRM_ID_COLUMNS = ("_id_customer_id", "_id_email", "_id_phone")


def columns_of(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


def resolve_as_of_date(con: duckdb.DuckDBPyConnection, requested: date | None) -> date:
    """The mart's evaluation date; it must be the run's own (``requested``) when given."""
    if not table_exists(con, *TIERS):
        raise PublishError("marts.customer_tiers does not exist: build the marts before publishing")
    dates = [row[0] for row in con.execute("select distinct as_of_date from marts.customer_tiers").fetchall()]
    if len(dates) != 1:
        shown = ", ".join(sorted(str(day) for day in dates)) or "none (empty mart)"
        raise PublishError(f"marts.customer_tiers must hold exactly one evaluation, found {shown}")
    found = dates[0]
    if not isinstance(found, date):
        raise PublishError(f"marts.customer_tiers.as_of_date must be a DATE, found {type(found).__name__}")
    if requested is not None and found != requested:
        raise PublishError(
            f"marts.customer_tiers is the evaluation of {found}, not of this run ({requested}): "
            "rebuild the marts for this run before publishing"
        )
    return found


def tier_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind in columns_of(con, *TIERS) if name not in PERSONAL_COLUMNS]


def customer_tiers_source(con: duckdb.DuckDBPyConnection, as_of: date) -> Source:
    names = tuple(name for name, _ in tier_columns(con))
    select = ", ".join(quote(name) for name in names)
    return Source(
        sql=f"select customer_id as record_key, {select} from marts.customer_tiers where as_of_date = ?",
        columns=names,
        hash_columns=names,
        params=(as_of,),
    )


def change_columns() -> list[tuple[str, str]]:
    """The outbox columns: the event, its revision and whether it was retracted."""
    return [*revisions.EVENT_COLUMNS, *revisions.REVISION_COLUMNS]


def tier_events_source(events: revisions.Reconciled) -> Source:
    """Every change up to this evaluation, at its latest revision, retracted ones included.

    The outbox is keyed by change_key: a new revision rewrites the row, a vanished event
    stays with ``retracted`` set (see :mod:`tierwise.publish.revisions`).
    """
    names = tuple(name for name, _ in change_columns())
    select = ", ".join(f"chg.{quote(name)}" for name in names)
    return Source(
        sql=f"select chg.change_key as record_key, {select} from {events.relation} as chg",
        columns=names,
        hash_columns=names,
    )


def _latest_contacts(con: duckdb.DuckDBPyConnection) -> tuple[str, set[str]]:
    """A relation with the latest email/phone per customer_id, and which of the two exist."""
    tier_names = {name for name, _ in columns_of(con, *TIERS)}
    if "email" in tier_names:
        wanted = {"email", "phone"} & tier_names
        return f"(select customer_id, {', '.join(sorted(wanted))} from marts.customer_tiers)", wanted
    raw = {name for name, _ in columns_of(con, "raw", "contacts")}
    wanted = {"email", "phone"} & raw
    if not wanted or "customer_id" not in raw:
        return "", set()
    order = [
        f"{name} desc nulls last" for name in ("updated_at", "_loaded_at", "_source_line") if name in raw
    ]
    ranking = f"order by {', '.join(order)}" if order else ""
    relation = (
        f"(select customer_id, {', '.join(sorted(wanted))} from raw.contacts "
        f"qualify row_number() over (partition by customer_id {ranking}) = 1)"
    )
    return relation, wanted


def crm_source(con: duckdb.DuckDBPyConnection, as_of: date, config: CrmConfig) -> Source:
    available = {name for name, _ in columns_of(con, *TIERS)}
    properties = {prop: column for prop, column in config.properties.items() if column in available}
    for prop in sorted(set(config.properties) - set(properties)):
        log.warning("crm: property %s skipped, column %s is not in the mart", prop, config.properties[prop])
    relation, contact_columns = _latest_contacts(con)
    join = f"left join {relation} as contact on contact.customer_id = tiers.customer_id" if relation else ""
    email = "contact.email" if "email" in contact_columns else "null::varchar"
    phone = "contact.phone" if "phone" in contact_columns and config.include_phone else "null::varchar"
    props = ", ".join(f"tiers.{quote(column)} as {quote(prop)}" for prop, column in properties.items())
    columns = CRM_ID_COLUMNS + tuple(properties)
    return Source(
        sql="select tiers.customer_id as record_key, tiers.customer_id as _id_customer_id, "
        f"{email} as _id_email, {phone} as _id_phone{', ' + props if props else ''} "
        f"from marts.customer_tiers as tiers {join} where tiers.as_of_date = ?",
        columns=columns,
        hash_columns=columns,
        params=(as_of,),
    )


def _literals(values: Sequence[str]) -> str:
    """A SQL list of lower-cased string literals (values come from the settings file)."""
    return ", ".join("'" + value.lower().replace("'", "''") + "'" for value in values) or "''"


def _unrated(expr: str, codes: Sequence[str]) -> str:
    listed = _literals(codes)
    return f"({expr} is null or lower({expr}) in ({listed}))"


def entry_tier_code(con: duckdb.DuckDBPyConnection, config: NotificationConfig) -> str | None:
    """The tier customers enter first: configured, else the tier unrated customers aim at next."""
    if config.entry_tier_code:
        return config.entry_tier_code
    unrated = _unrated("tier_code", config.unrated_codes)
    names = {name for name, _ in columns_of(con, *TIERS)}
    queries = []
    if "next_tier_code" in names:
        queries.append(
            f"select next_tier_code from marts.customer_tiers where {unrated} and next_tier_code is not null "
            "group by 1 order by count(*) desc, 1 limit 1"
        )
    if "measure_value" in names:
        queries.append(
            f"select tier_code from marts.customer_tiers where not {unrated} group by 1 "
            "order by avg(measure_value), 1 limit 1"
        )
    for sql in queries:
        row = con.execute(sql).fetchone()
        if row and row[0]:
            return str(row[0])
    return None


_NAMES = "(select tier_code, any_value(tier_name) as tier_name from marts.customer_tiers group by 1)"


def _has_tier_names(con: duckdb.DuckDBPyConnection) -> bool:
    return "tier_name" in {name for name, _ in columns_of(con, *TIERS)}


def _tier_names_select(con: duckdb.DuckDBPyConnection) -> str:
    if _has_tier_names(con):
        return "from_tier.tier_name as from_tier_name, to_tier.tier_name as to_tier_name"
    return "null::varchar as from_tier_name, null::varchar as to_tier_name"


def _tier_names_join(con: duckdb.DuckDBPyConnection) -> str:
    # Names come from the current evaluation: a tier renamed since the previous one shows
    # its new name on both sides, which is what the reader of the message knows today.
    if not _has_tier_names(con):
        return ""
    return (
        f"left join {_NAMES} as from_tier on from_tier.tier_code = chg.from_tier_code "
        f"left join {_NAMES} as to_tier on to_tier.tier_code = chg.to_tier_code"
    )


def _notifiable(con: duckdb.DuckDBPyConnection, config: NotificationConfig) -> tuple[str, dict[str, object]]:
    """The condition (and its parameters) for a change of this evaluation worth a message."""
    types = _literals(config.change_types)
    where = ["chg.as_of_date = $as_of", "not chg.retracted", f"lower(chg.change_type) in ({types})"]
    params: dict[str, object] = {}
    entry = entry_tier_code(con, config) if config.skip_entry_level_moves else None
    if entry is not None:
        from_unrated = _unrated("chg.from_tier_code", config.unrated_codes)
        to_unrated = _unrated("chg.to_tier_code", config.unrated_codes)
        where.append(
            f"not (({from_unrated} and chg.to_tier_code = $entry) "
            f"or (chg.from_tier_code = $entry and {to_unrated}))"
        )
        params["entry"] = entry
    return "(" + " and ".join(where) + ")", params


def notifiable_changes(
    con: duckdb.DuckDBPyConnection, as_of: date, config: NotificationConfig
) -> list[tuple[str, str | None, str, str, str]]:
    """The changes of ``as_of`` in marts.tier_changes that the notifications destination finds
    worth a message, before what it sent already (customer_id, from, to, change type, reason):
    what a simulation says proposed rules would notify."""
    condition, params = _notifiable(con, config)
    rows = con.execute(
        "select chg.customer_id, chg.from_tier_code, chg.to_tier_code, chg.change_type, chg.reason "
        f"from (select *, false as retracted from marts.tier_changes) as chg where {condition} "
        "order by chg.customer_id",
        {**params, "as_of": as_of},
    ).fetchall()
    return [(str(a), b, str(c), str(d), str(e or "")) for a, b, c, d, e in rows]


# A notification's version: the key alone for revision 1 (what every change notified
# before revisions existed was recorded with), the key and revision after.
NOTIFICATION_HASH = "case when revision = 1 then md5(record_key) else md5(record_key || '#' || revision) end"
NOTIFICATION_COLUMNS = (
    *(name for name, _ in revisions.EVENT_COLUMNS),
    "from_tier_name",
    "to_tier_name",
    "revision",
    "retracted",
    "notified_before",
)


def notification_source(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    config: NotificationConfig,
    events: revisions.Reconciled,
    channel: str,
) -> Source:
    """What ``channel`` must send: this evaluation's changes worth a message (NotificationConfig
    has the rules) and, with ``config.corrections``, every change it notified before, at its
    latest revision: a new revision of one of those is a correction, or a retraction.
    """
    notifiable, params = _notifiable(con, config)
    sent = notified_keys(con)
    if "$destination" in sent:  # a dry run of a warehouse never published has no state
        params["destination"] = channel
    notified = f"chg.change_key in (select record_key from {sent})"
    where = f"{notifiable} or {notified}" if config.corrections else f"{notifiable} and not {notified}"
    event_columns = ", ".join(f"chg.{quote(name)}" for name, _ in revisions.EVENT_COLUMNS)
    sql = (
        f"select chg.change_key as record_key, {event_columns}, {_tier_names_select(con)}, chg.revision, "
        f"chg.retracted, {notified} as notified_before "
        f"from {events.relation} as chg {_tier_names_join(con)} where {where}"
    )
    return Source(
        sql=sql,
        columns=NOTIFICATION_COLUMNS,
        hash_columns=("revision",),
        params={**params, "as_of": as_of},
        hash_sql=NOTIFICATION_HASH,
    )
