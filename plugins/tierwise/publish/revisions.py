"""The revision log of tier changes: the one version of each event every destination gets.

``marts.tier_changes`` is rebuilt from the whole tier history on every build, so rebuilding
an evaluation that was already published (late data, a changed ladder) can change an event
that went out (``C0000141|2025-12-31``: entry bronze becomes entry gold) or remove it (an
upgrade that no longer happened). ``ops.tier_change_revisions`` keeps one row per
``change_key``: its latest content, a ``revision`` that starts at 1 and grows by one with
every change of that content, and ``retracted``, set (with a new revision) when the event
left the mart; the row keeps the content that was retracted.

Every publish that reads tier changes first reconciles the log with the mart (:func:`reconcile`),
in one transaction and within the evaluation it publishes: events dated after it are out of
scope, not gone. Re-running it with no change in the mart writes nothing, and a kill before
its commit leaves the log as it was, so the next run computes the same revisions. The
destinations then sync from the log, so they agree on revision numbers: the outbox tables
update the row (``revision``, ``retracted``), notifications send a correction or a
retraction of a change they had notified, each once per revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from tierwise.engine import table_exists, transaction
from tierwise.exceptions import PublishError
from tierwise.masking import get_logger
from tierwise.publish.state import quote, utcnow

log = get_logger(__name__)

LOG_TABLE = "ops.tier_change_revisions"
# What a dry run would make of the log (temp table): the events up to its evaluation.
EVENTS = "_tw_events"
_CHANGED = "_tw_event_revisions"
# The event columns of marts.tier_changes (docs/contracts.md) with the types the log keeps.
EVENT_COLUMNS = (
    ("change_key", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("as_of_date", "DATE"),
    ("previous_as_of_date", "DATE"),
    ("from_tier_code", "VARCHAR"),
    ("to_tier_code", "VARCHAR"),
    ("change_type", "VARCHAR"),
    ("reason", "VARCHAR"),
)
REVISION_COLUMNS = (("revision", "INTEGER"), ("retracted", "BOOLEAN"))
_REQUIRED = frozenset({"change_key", "customer_id", "as_of_date", "to_tier_code", "change_type"})

_DDL = f"""
create schema if not exists ops;
create table if not exists {LOG_TABLE} (
    change_key varchar primary key,
    {", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS if name != "change_key")},
    revision integer not null,
    retracted boolean not null,
    run_id varchar,
    updated_at timestamp not null
)
"""
_LOG_COLUMNS = (
    *(name for name, _ in EVENT_COLUMNS),
    "revision",
    "retracted",
    "run_id",
    "updated_at",
)


@dataclass(frozen=True)
class Reconciled:
    """What a publish found in the mart against the log; ``relation`` holds the result."""

    relation: str
    new: int = 0
    corrected: int = 0
    retracted: int = 0

    def summary(self) -> str:
        return f"{self.new} new, {self.corrected} corrected, {self.retracted} retracted"


def _mart_events(con: duckdb.DuckDBPyConnection) -> str:
    """The mart's events in the log's types; optional columns the model lacks read as null."""
    present = {str(row[0]) for row in con.execute("describe marts.tier_changes").fetchall()}
    missing = _REQUIRED - present
    if missing:
        shown = ", ".join(sorted(missing))
        raise PublishError(f"marts.tier_changes lacks column(s) {shown}: rebuild the marts")
    fields = ", ".join(
        f"chg.{quote(name)}::{kind} as {name}" if name in present else f"null::{kind} as {name}"
        for name, kind in EVENT_COLUMNS
    )
    return f"(select {fields} from marts.tier_changes as chg where chg.as_of_date <= $as_of)"


def _logged(con: duckdb.DuckDBPyConnection) -> str:
    if table_exists(con, "ops", "tier_change_revisions"):
        return f"(select * from {LOG_TABLE} where as_of_date <= $as_of)"
    # A dry run on a warehouse never published: an empty log, nothing created.
    kinds = (*EVENT_COLUMNS, *REVISION_COLUMNS, ("run_id", "VARCHAR"))
    columns = ", ".join(f"null::{kind} as {name}" for name, kind in (*kinds, ("updated_at", "TIMESTAMP")))
    return f"(select {columns} where false)"


def _check_keys(con: duckdb.DuckDBPyConnection, mart: str, as_of: date) -> None:
    row = con.execute(
        f"select count(*) - count(distinct change_key) from {mart}", {"as_of": as_of}
    ).fetchone()
    if row and row[0]:
        raise PublishError(
            f"marts.tier_changes has {row[0]} duplicate change_key(s): fix the mart and rebuild"
        )


def _stage_revisions(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date) -> None:
    """The log rows this publish adds or replaces: new, changed or revived events, and retractions."""
    mart = _mart_events(con)
    _check_keys(con, mart, as_of)
    events = ", ".join(name for name, _ in EVENT_COLUMNS)
    # Compared column by column (the log keeps the content): cheaper than hashing every event.
    differs = " or ".join(f"mart.{name} is distinct from logged.{name}" for name, _ in EVENT_COLUMNS)
    con.execute(
        f"""
        create or replace temp table {_CHANGED} as
        with mart as {mart}, logged as {_logged(con)}
        select {", ".join(f"mart.{name}" for name, _ in EVENT_COLUMNS)},
            coalesce(logged.revision, 0) + 1 as revision, false as retracted,
            $run_id as run_id, $now as updated_at
        from mart left join logged on logged.change_key = mart.change_key
        where logged.change_key is null or logged.retracted or {differs}
        union all
        select {events}, revision + 1, true, $run_id, $now
        from logged
        where not retracted and change_key not in (select change_key from mart)
        """,
        {"as_of": as_of, "run_id": run_id, "now": utcnow()},
    )


def _save(con: duckdb.DuckDBPyConnection) -> None:
    columns = ", ".join(_LOG_COLUMNS)
    with transaction(con):
        con.execute(_DDL)
        # Revision 1 is an event the log does not hold yet: a plain insert (an upsert of a
        # million first revisions took a third longer).
        for verb, rows in (("insert", "revision = 1"), ("insert or replace", "revision > 1")):
            con.execute(f"{verb} into {LOG_TABLE} ({columns}) select {columns} from {_CHANGED} where {rows}")


def _events_after(con: duckdb.DuckDBPyConnection, as_of: date, *, dry_run: bool) -> str:
    """Save the staged revisions (not in a dry run); the relation of the events up to ``as_of``."""
    if not dry_run:
        _save(con)
        return f"(select * from {LOG_TABLE} where as_of_date <= date '{as_of.isoformat()}')"
    columns, logged = ", ".join(_LOG_COLUMNS), _logged(con)
    con.execute(
        f"""
        create or replace temp table {EVENTS} as
        select {columns} from {logged} where change_key not in (select change_key from {_CHANGED})
        union all
        select {columns} from {_CHANGED}
        """,
        {"as_of": as_of} if "$as_of" in logged else {},
    )
    return EVENTS


def reconcile(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str, *, dry_run: bool) -> Reconciled:
    """Bring the log in line with ``marts.tier_changes`` up to ``as_of``; a dry run only computes it.

    The result's ``relation`` holds the events up to ``as_of`` (current revision, retracted
    ones included) for the sources of this publish: the log itself, or for a dry run the
    temp table :data:`EVENTS`.
    """
    _stage_revisions(con, run_id, as_of)
    relation = _events_after(con, as_of, dry_run=dry_run)
    row = con.execute(
        f"select count(*) filter (revision = 1), count(*) filter (revision > 1 and not retracted), "
        f"count(*) filter (retracted) from {_CHANGED}"
    ).fetchone()
    found = Reconciled(relation, *(int(count) for count in row)) if row else Reconciled(relation)
    log.info("tier changes up to %s: %s since the last publish (%s)", as_of, found.summary(), LOG_TABLE)
    return found
