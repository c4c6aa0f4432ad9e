"""What-if: proposed tier rules evaluated on a copy of the warehouse, compared with the live tiers.

Before they change a ladder or a rule, the people who own the rules want to see what it would
do. A simulation copies the warehouse file (under a read lock, so no writer is midway) into a
temporary folder and runs the real ``dbt build`` of the tier models on the copy, with the
proposed ladder (var ``tier_ladder_file``) and vars, its own dbt target and log folders: the
live warehouse, its build state (``ops.build_state`` lives in it), dbt's live ``target`` and
every destination stay as they were, and nothing is published. The copy's history keeps the
earlier evaluations, so downgrade grace is applied as a real rebuild of that month would.

Proposed rules are checked by dbt's own on-run-start hooks, so an invalid ladder or var fails
with the message a live build gives. DuckDB only: a Spark warehouse is not one file to copy.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from tierwise import build_state
from tierwise.context import RunContext
from tierwise.exceptions import BuildError, SimulationError
from tierwise.settings import EngineName

# The whole project, as a real build of that date: a build of only the tier models' lineage
# leaves the other marts (orders, customer_value) at the live evaluation, and the tests that
# reconcile them with the tiers fail whenever the simulated date is not the live one.
SELECT: tuple[str, ...] = ()
# One evaluation month of the tier history, with what explains each customer's tier.
EXPLAINED = (
    "customer_id",
    "tier_code",
    "tier_rank",
    "tier_rule",
    "earned_tier_code",
    "grace_evaluations_used",
    "measure_name",
    "measure_value",
    "measure_orders",
    "window_net_revenue",
    "abc_class",
    "is_eligible",
    "ineligibility_reason",
    "next_tier_code",
    "gap_to_next_tier",
    "next_tier_min_value",
)
# changes.csv: every customer whose tier would change, with both rules' explanations.
CHANGE_COLUMNS = (
    "customer_id",
    "direction",
    *(f"{side}_{name}" for name in EXPLAINED[1:] for side in ("now", "proposed")),
)


@dataclass(frozen=True)
class Proposal:
    """The rules to try: a ladder file (or none: the live ladder) and dbt vars over the live ones."""

    ladder: Path | None = None
    dbt_vars: Mapping[str, Any] = field(default_factory=dict)

    def build_vars(self, base: Mapping[str, Any]) -> dict[str, Any]:
        given = {**base, **self.dbt_vars}
        if self.ladder is not None:
            given["tier_ladder_file"] = str(self.ladder)
        return given


@dataclass(frozen=True)
class Simulation:
    """A finished simulation: where its report is and what it found (summary.json's content)."""

    folder: Path
    summary: dict[str, Any]

    def lines(self) -> list[str]:
        """The short terminal summary."""
        found = self.summary
        moves = found["moves"]
        lines = [
            f"simulation as of {found['as_of_date']}: {moves['changed']} of {found['customers']} customers "
            f"would change tier ({moves['up']} up, {moves['down']} down, {moves['across']} renamed)",
        ]
        for tier in found["tier_mix"]:
            customers = f"{tier['now_customers']:>7} -> {tier['proposed_customers']:<7}"
            revenue = f"{tier['now_revenue']:>14,.2f} -> {tier['proposed_revenue']:,.2f}"
            lines.append(f"  {tier['tier_code']:<12} {customers} customers   revenue {revenue}")
        notes = found["notifications"]
        lines.append(
            f"notifications: {notes['proposed']} would be sent (now {notes['now']}); "
            f"{found['newly_within_reach']} customers newly within reach of the next tier"
        )
        lines.append(f"report: {self.folder} ({found['elapsed']:.1f}s)")
        return lines


def _ladder(path: Path | None) -> Path | None:
    if path is None:
        return None
    if not path.is_file():
        raise SimulationError(
            f"--ladder {path}: no such file (a CSV with the columns of seeds/tier_ladder.csv)"
        )
    return path.resolve()


def _copy_warehouse(ctx: RunContext, into: Path) -> Path:
    """The warehouse file (and its WAL) copied while a read-only connection keeps writers out."""
    live = ctx.settings.warehouse
    if not live.is_file():
        raise SimulationError(f"no warehouse at {live}: ingest and build before simulating")
    copy = into / "warehouse.duckdb"
    with ctx.engine.connect(read_only=True):
        shutil.copyfile(live, copy)
        wal = live.with_name(live.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    return copy


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> Any:
    row = con.execute(sql, params).fetchone()
    return row[0] if row else None


def _evaluation_date(con: duckdb.DuckDBPyConnection, given: date | None) -> date:
    """The given date, else the evaluation the live marts hold (the latest build)."""
    if given is not None:
        return given
    try:
        found = _scalar(con, "select max(as_of_date) from marts.customer_tiers")
    except duckdb.CatalogException:
        found = None
    if not isinstance(found, date):
        raise SimulationError(
            "the warehouse holds no evaluation (marts.customer_tiers): build before simulating"
        )
    return found


def _built(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    """True when the history holds the evaluation as of exactly ``as_of`` (the "now" side)."""
    try:
        return bool(
            _scalar(con, "select count(*) from marts.customer_tier_history where as_of_date = ?", [as_of])
        )
    except duckdb.CatalogException:
        return False


def _keep(con: duckdb.DuckDBPyConnection, side: str, as_of: date, notified: list[tuple[Any, ...]]) -> None:
    """The evaluation the copy holds now, kept in schema ``simulation`` before the next build."""
    columns = ", ".join(EXPLAINED)
    con.execute("create schema if not exists simulation")
    con.execute(
        f"create or replace table simulation.{side}_tiers as "
        f"select {columns} from marts.customer_tier_history where as_of_date = ?",
        [as_of],
    )
    con.execute(
        f"create or replace table simulation.{side}_notified "
        "(customer_id varchar, from_tier_code varchar, to_tier_code varchar, "
        "change_type varchar, reason varchar)"
    )
    if notified:
        con.executemany(f"insert into simulation.{side}_notified values (?, ?, ?, ?, ?)", notified)


def _notified(ctx: RunContext, con: duckdb.DuckDBPyConnection, as_of: date) -> list[tuple[Any, ...]]:
    from tierwise.publish.config import load_publish_config
    from tierwise.publish.sources import notifiable_changes

    config = load_publish_config(ctx.settings.publish_config, home=ctx.settings.home)
    return list(notifiable_changes(con, as_of, config.notifications))


def _dbt_build(
    ctx: RunContext, settings: Any, dbt_vars: Mapping[str, Any], as_of: date, target: Path
) -> None:
    sim = RunContext.create(ctx.run_id, settings=settings, as_of_date=as_of, dbt_vars=dbt_vars)
    try:
        from tierwise.transform import run_dbt

        run_dbt(sim, "build", as_of_date=as_of, select=SELECT, target_path=target)
    except BuildError as error:
        raise SimulationError(_in_users_words(str(error))) from None


def _in_users_words(message: str) -> str:
    """dbt's message without its wrapping: the rule checks' own text when they rejected the rules."""
    for marker in ("Invalid tier_ladder", "Invalid rfm_segments", "Invalid Tierwise rule", "Invalid FX"):
        if marker in message:
            told = message[message.index(marker) :].splitlines()
            kept = [line.strip() for line in told if not line.strip().startswith((">", "Nothing was loaded"))]
            return "the proposed rules are invalid (nothing live changed): " + "\n  ".join(kept)
    return f"the simulated build failed (nothing live changed): {message}"


def run_simulation(ctx: RunContext, proposal: Proposal, folder: Path, *, work_dir: Path) -> dict[str, Any]:
    """Build the proposal on a copy in ``work_dir``; the comparison, written to ``folder``."""
    copy = _copy_warehouse(ctx, work_dir)
    settings = replace(ctx.settings, warehouse=copy, log_dir=work_dir / "logs")
    with duckdb.connect(str(copy)) as con:
        as_of = _evaluation_date(con, ctx.as_of_date)
        base = build_state.last_build_vars(con)
        built = _built(con, as_of)
    if not built:  # "now" is the live rules' evaluation of that date: built on the copy first
        _dbt_build(ctx, settings, base, as_of, work_dir / "target")
    with duckdb.connect(str(copy)) as con:
        _keep(con, "now", as_of, _notified(ctx, con, as_of))
    dbt_vars = proposal.build_vars(base)
    _dbt_build(ctx, settings, dbt_vars, as_of, work_dir / "target")
    with duckdb.connect(str(copy)) as con:
        _keep(con, "proposed", as_of, _notified(ctx, con, as_of))
        return compare(con, folder, as_of, ratios=_gap_ratios(ctx, base, dbt_vars)) | {
            "live_vars": base,
            "proposed_vars": dbt_vars,
            "now_built_on_copy": not built,
        }


def _gap_ratios(ctx: RunContext, base: Mapping[str, Any], proposed: Mapping[str, Any]) -> tuple[float, float]:
    from tierwise.transform import project_vars

    project = project_vars(ctx.settings.dbt_project_dir)
    now = float({**project, **base}["growable_gap_ratio"])
    return now, float({**project, **proposed}["growable_gap_ratio"])


def simulate(ctx: RunContext, proposal: Proposal, out: Path | None = None) -> Simulation:
    """Evaluate ``proposal`` as of ``ctx.as_of_date`` (else the latest build) and write its report.

    ``out`` defaults to ``<publish_dir>/simulations/<timestamp>``. Raises SimulationError with
    the rule checks' message when the proposed rules are invalid; nothing live is touched.
    """
    if ctx.engine.name is not EngineName.DUCKDB:
        raise SimulationError(
            f"simulate works on a DuckDB warehouse only (TIERWISE_ENGINE={ctx.engine.name.value}): "
            "it builds the proposal on a copy of the warehouse file"
        )
    started = time.perf_counter()
    proposal = replace(proposal, ladder=_ladder(proposal.ladder))
    folder = out or ctx.settings.publish_dir / "simulations" / datetime.now().strftime("%Y%m%dT%H%M%S")
    with tempfile.TemporaryDirectory(prefix="tierwise-simulate-") as work:
        found = run_simulation(ctx, proposal, folder, work_dir=Path(work))
    found["ladder"] = str(proposal.ladder) if proposal.ladder else None
    found["elapsed"] = round(time.perf_counter() - started, 2)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(found, indent=2, default=str) + "\n", encoding="utf-8")
    simulation = Simulation(folder, found)
    _write_report(simulation)
    return simulation


# --- the comparison, on the copy's schema simulation ------------------------------------------

_JOINED = """
select coalesce(now.customer_id, proposed.customer_id) as customer_id, {columns}
from simulation.now_tiers as now
full join simulation.proposed_tiers as proposed on now.customer_id = proposed.customer_id
"""
_DIRECTION = """
case
    when now.tier_rank is null or proposed.tier_rank > now.tier_rank then 'up'
    when proposed.tier_rank is null or proposed.tier_rank < now.tier_rank then 'down'
    else 'across'
end
"""


def _changes(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple[Any, ...]]]:
    sides = ", ".join(
        f"{name.split('_', 1)[0]}.{name.split('_', 1)[1]} as {name}" for name in CHANGE_COLUMNS[2:]
    )
    sql = _JOINED.format(columns=f"{_DIRECTION} as direction, {sides}") + (
        " where now.tier_code is distinct from proposed.tier_code order by 2, 1"
    )
    return list(CHANGE_COLUMNS), con.execute(sql).fetchall()


def _tier_mix(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute(
        """
        with per_side as (
            select 'now' as side, tier_code, any_value(tier_rank) as tier_rank, count(*) as customers,
                coalesce(sum(window_net_revenue), 0) as revenue
            from simulation.now_tiers group by tier_code
            union all
            select 'proposed', tier_code, any_value(tier_rank), count(*), coalesce(sum(window_net_revenue), 0)
            from simulation.proposed_tiers group by tier_code
        )
        select tier_code,
            coalesce(max(tier_rank) filter (where side = 'proposed'), max(tier_rank)) as tier_rank,
            coalesce(sum(customers) filter (where side = 'now'), 0),
            coalesce(sum(customers) filter (where side = 'proposed'), 0),
            coalesce(sum(revenue) filter (where side = 'now'), 0),
            coalesce(sum(revenue) filter (where side = 'proposed'), 0)
        from per_side group by tier_code order by 2 desc, 1
        """
    ).fetchall()
    keys = (
        "tier_code",
        "tier_rank",
        "now_customers",
        "proposed_customers",
        "now_revenue",
        "proposed_revenue",
    )
    return [
        {
            key: float(value) if key.endswith("revenue") else value
            for key, value in zip(keys, row, strict=True)
        }
        for row in rows
    ]


def _matrix(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute(
        _JOINED.format(columns="now.tier_code as now_tier, proposed.tier_code as proposed_tier").replace(
            "select coalesce", "select now_tier, proposed_tier, count(*) from (select coalesce", 1
        )
        + ") group by all order by 1, 2"
    ).fetchall()
    return [{"now": now, "proposed": proposed, "customers": count} for now, proposed, count in rows]


def _within_reach(side: str, ratio: float) -> str:
    return (
        f"{side}.is_eligible and {side}.next_tier_code is not null "
        f"and {side}.gap_to_next_tier <= {ratio!r} * {side}.next_tier_min_value"
    )


def _newly_within_reach(con: duckdb.DuckDBPyConnection, ratios: tuple[float, float]) -> list[dict[str, Any]]:
    now, proposed = _within_reach("now", ratios[0]), _within_reach("proposed", ratios[1])
    columns = (
        "proposed.tier_code as tier_code, proposed.next_tier_code as next_tier_code, "
        "proposed.gap_to_next_tier as gap, proposed.next_tier_min_value as next_tier_min_value"
    )
    sql = _JOINED.format(columns=columns) + f" where {proposed} and not coalesce({now}, false) order by 1"
    keys = ("customer_id", "tier_code", "next_tier_code", "gap", "next_tier_min_value")
    return [dict(zip(keys, row, strict=True)) for row in con.execute(sql).fetchall()]


def _notifications(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    columns = "customer_id, from_tier_code, to_tier_code, change_type, reason"
    rows = con.execute(f"select {columns} from simulation.proposed_notified order by customer_id").fetchall()
    keys = columns.split(", ")
    return {
        "now": _scalar(con, "select count(*) from simulation.now_notified"),
        "proposed": len(rows),
        "by_type": dict(
            con.execute(
                "select change_type, count(*) from simulation.proposed_notified group by 1 order by 1"
            ).fetchall()
        ),
        "changes": [dict(zip(keys, row, strict=True)) for row in rows],
    }


def _write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def compare(
    con: duckdb.DuckDBPyConnection, folder: Path, as_of: date, *, ratios: tuple[float, float]
) -> dict[str, Any]:
    """Now against proposed: changes.csv in ``folder``, and the figures of summary.json."""
    header, changes = _changes(con)
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "changes.csv", header, changes)
    directions = [row[1] for row in changes]
    within = _newly_within_reach(con, ratios)
    return {
        "as_of_date": as_of.isoformat(),
        "customers": _scalar(con, "select count(*) from simulation.proposed_tiers"),
        "moves": {
            "changed": len(changes),
            **{kind: directions.count(kind) for kind in ("up", "down", "across")},
        },
        "tier_mix": _tier_mix(con),
        "migration_matrix": _matrix(con),
        "notifications": _notifications(con),
        "newly_within_reach": len(within),
        "newly_within_reach_customers": within,
        "growable_gap_ratio": {"now": ratios[0], "proposed": ratios[1]},
    }


def _write_report(simulation: Simulation) -> None:
    """report.html: the figures of summary.json as a page (tierwise.reporting's building blocks)."""
    from tierwise.reporting.page import write_page
    from tierwise.simulate_report import render

    with (simulation.folder / "changes.csv").open(encoding="utf-8", newline="") as handle:
        changes = list(csv.DictReader(handle))
    write_page(simulation.folder / "report.html", render(simulation.summary, changes))
