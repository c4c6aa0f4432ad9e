"""Skip a ``dbt build`` whose inputs have not changed since the last successful build.

An evaluation as of date D reads only what was known at the end of D: record versions whose
version timestamp is before the cut-off, the dbt project (models, macros, seeds, vars), the FX
rates file that var ``fx_rates_file`` names and the ladder file of var ``tier_ladder_file``, and
the tier history of earlier months (downgrade grace). A daily run that evaluates the same month
end again after new exports arrived gets the same marts, so rebuilding them is wasted work. The
fingerprint below covers every one of those inputs, plus the marts themselves (a dropped or
edited mart forces a build); a build is skipped only when the fingerprint equals the one
recorded after the last successful build. It is conservative: a file loaded again with the same
rows changes ``_loaded_at`` and so forces a build.

Never skipped: ``full_refresh``, or ``TIERWISE_BUILD_SKIP_UNCHANGED=0``. A run without an
evaluation date is checked for the date dbt would take (:mod:`tierwise.evaluation`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from tierwise.transform import project_vars

if TYPE_CHECKING:
    from tierwise.context import RunContext
from tierwise.engine import Connection, EngineName, list_tables, table_exists

STATE_TABLE = "ops.build_state"
# Marts whose content is hashed too: the history feeds the next evaluation's downgrade grace,
# and customer_tiers is what publishing sends.
CONTENT_HASHED = {
    "customer_tier_history": "customer_id, as_of_date, tier_code, grace_evaluations_used",
    "customer_tiers": (
        "customer_id, as_of_date, tier_code, abc_class, is_eligible, measure_value, gap_to_next_tier"
    ),
}
# The timestamp that orders a record's versions (staging's updated_at, with the same fallbacks).
VERSION_TIMESTAMPS = {
    "orders": "coalesce(updated_at, ordered_at)",
    "contacts": "updated_at",
    "tickets": "coalesce(updated_at, opened_at)",
}
_PROJECT_SKIP = {"target", "logs", "dbt_packages", "__pycache__", ".user.yml"}


@dataclass(frozen=True)
class Fingerprint:
    as_of_date: date
    digest: str
    parts: dict[str, Any]


def project_digest(project_dir: Path) -> str:
    """sha256 over every file of the dbt project that can change what a build produces."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or _PROJECT_SKIP.intersection(relative.parts):
            continue
        digest.update(str(relative).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def rates_file_digest(
    project_dir: Path, dbt_vars: dict[str, Any] | None = None, var: str = "fx_rates_file"
) -> str | None:
    """sha256 of the file that ``var`` names (the FX rates file, or the tier ladder file of var
    tier_ladder_file): it lives outside the project.

    The run's own vars (--vars) come before dbt_project.yml's. A relative path is read from the
    current directory, as dbt reads it in this process.
    """
    name = {**project_vars(project_dir), **(dbt_vars or {})}.get(var)
    if not name:
        return None
    path = Path(str(name))
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else f"missing {path}"


def _raw_inputs(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> dict[str, list[Any]]:
    parts: dict[str, list[Any]] = {}
    for entity, version_at in VERSION_TIMESTAMPS.items():
        if not table_exists(con, "raw", entity):
            parts[entity] = []
            continue
        row = con.execute(
            "select count(*), "
            "coalesce(sum(hash(_source_file, _source_line, _file_checksum, _loaded_at)), 0) "
            f"from raw.{entity} where {version_at} < ?",
            [cutoff],
        ).fetchone()
        parts[entity] = [int(row[0]), str(row[1])] if row else []
    return parts


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"select count(*) from {relation}").fetchone()
    return int(row[0]) if row else 0


def _marts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    tables = list_tables(con, "marts")
    counts = {name: _count(con, f'marts."{name}"') for name in tables}
    contents = {}
    for table, columns in CONTENT_HASHED.items():
        if table in tables:
            row = con.execute(f"select coalesce(sum(hash({columns})), 0) from marts.{table}").fetchone()
            contents[table] = str(row[0]) if row else ""
    return {"row_counts": counts, "contents": contents}


def fingerprint(
    con: duckdb.DuckDBPyConnection, as_of_date: date, project_dir: Path, extra: dict[str, Any]
) -> Fingerprint:
    """What a build evaluating ``as_of_date`` reads and writes, summarised."""
    cutoff = datetime.combine(as_of_date + timedelta(days=1), datetime.min.time())
    parts = {
        "as_of_date": as_of_date.isoformat(),
        "project": project_digest(project_dir),
        "fx_rates_file": rates_file_digest(project_dir, extra.get("vars")),
        "tier_ladder_file": rates_file_digest(project_dir, extra.get("vars"), "tier_ladder_file"),
        "raw": _raw_inputs(con, cutoff),
        "marts": _marts(con),
        **extra,
    }
    encoded = json.dumps(parts, sort_keys=True).encode()
    return Fingerprint(as_of_date, hashlib.sha256(encoded).hexdigest(), parts)


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ops")
    con.execute(
        f"create table if not exists {STATE_TABLE} ("
        "as_of_date date, digest varchar, parts json, run_id varchar, built_at timestamp)"
    )


@dataclass(frozen=True)
class BuildRecord:
    """The latest row of ``ops.build_state``: a build that started (no digest) or succeeded."""

    built_at: datetime
    run_id: str
    digest: str | None


def latest_record(con: Connection) -> BuildRecord | None:
    """The last build recorded, started or finished; None before the first one."""
    if not table_exists(con, *STATE_TABLE.split(".")):
        return None
    con.execute(f"select built_at, run_id, digest from {STATE_TABLE} order by built_at desc limit 1")
    row = con.fetchone()
    return BuildRecord(row[0], str(row[1]), str(row[2]) if row[2] else None) if row else None


def last_build(con: Connection) -> tuple[str, str] | None:
    """(digest, run_id) recorded after the last successful build, if any."""
    latest = latest_record(con)
    return (latest.digest, latest.run_id) if latest and latest.digest else None


def last_build_vars(con: Connection) -> dict[str, Any]:
    """The --vars the last successful build was given (``{}`` before the first one)."""
    if not table_exists(con, *STATE_TABLE.split(".")):
        return {}
    con.execute(f"select parts from {STATE_TABLE} where digest is not null order by built_at desc limit 1")
    row = con.fetchone()
    return dict(json.loads(str(row[0])).get("vars") or {}) if row and row[0] else {}


def rules_in_force(con: Connection, project_dir: Path) -> dict[str, Any]:
    """The vars the marts were built with: dbt_project.yml's, under the last build's --vars."""
    return {**project_vars(project_dir), **last_build_vars(con)}


def record(con: duckdb.DuckDBPyConnection, fp: Fingerprint, run_id: str, built_at: datetime) -> None:
    """Remember the fingerprint of a successful build (the state the next run compares with).

    A dbt run that writes forgets it in its on-run-start, once the rule checks passed
    (``dbt_project/macros/build_state.sql``): it appends a row without a digest.
    """
    _ensure_table(con)
    con.execute(
        f"insert into {STATE_TABLE} values (?, ?, ?, ?, ?)",
        [fp.as_of_date, fp.digest, json.dumps(fp.parts, sort_keys=True), run_id, built_at],
    )


def _extra(ctx: RunContext) -> dict[str, Any]:
    from importlib.metadata import version

    # Rules given on the command line (--vars) shape the marts like an edited dbt_project.yml.
    extra = {"dbt": version("dbt-core"), "dbt_duckdb": version("dbt-duckdb"), "vars": dict(ctx.dbt_vars)}
    if ctx.engine.name is not EngineName.DUCKDB:  # the same rules on another engine: build again
        extra["engine"] = ctx.engine.name.value
    return extra


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def still_valid(ctx: RunContext, as_of_date: date) -> tuple[str, Fingerprint] | None:
    """The run whose build already produced what a build as of ``as_of_date`` would, if any."""
    if not ctx.engine.exists():
        return None
    with ctx.engine.connect() as con:
        last = last_build(con)
        if last is None:
            return None
        current = fingerprint(con, as_of_date, ctx.settings.dbt_project_dir, _extra(ctx))
    digest, run_id = last
    return (run_id, current) if current.digest == digest else None


def forget_outside_dbt(ctx: RunContext) -> None:
    """Forget the last build before dbt writes, where dbt's own hook cannot reach the state.

    On DuckDB, dbt's on-run-start does it, in the warehouse both share. On Spark the state is in
    the ledger, which dbt does not see: a build that fails halfway must not leave it valid.
    """
    if ctx.engine.name is EngineName.DUCKDB:
        return
    with ctx.engine.connect() as con:
        _ensure_table(con)
        con.execute(f"insert into {STATE_TABLE} (run_id, built_at) values (?, ?)", [ctx.run_id, _now()])


def remember(ctx: RunContext, as_of_date: date) -> None:
    with ctx.engine.connect() as con:
        current = fingerprint(con, as_of_date, ctx.settings.dbt_project_dir, _extra(ctx))
        record(con, current, ctx.run_id, _now())
