"""Entry point: run the generation steps and write the export folder."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
from tqdm import tqdm

from tierwise.context import workspace
from tierwise.schema import ENTITIES
from tierwise_dev.generate.common import Params, Rows, id_width
from tierwise_dev.generate.customers import build_customers
from tierwise_dev.generate.dirty import add_dirty
from tierwise_dev.generate.manifest import build_manifest, write_manifest
from tierwise_dev.generate.orders import Orders, build_orders
from tierwise_dev.generate.render import Widths, sort_rows, write_entity
from tierwise_dev.generate.tickets import build_tickets

ENTITY_ORDER = tuple(ENTITIES)
MANIFEST = "manifest.json"
STEPS = ("customers", "orders", "tickets", "dirty rows", *(f"write {e}" for e in ENTITY_ORDER), "manifest")


@dataclass(frozen=True)
class GenerationResult:
    """What a run wrote. Counts of rows are per entity; dirty counts per kind."""

    out: Path
    manifest: Path
    files: dict[str, tuple[Path, ...]] = field(repr=False)
    rows_written: dict[str, int]
    clean_rows: dict[str, int]
    dirty_rows: dict[str, int]
    distinct_orders: int
    distinct_customers: int
    elapsed_seconds: float


def _clear(out: Path) -> None:
    """Remove files an earlier run generated, and nothing else the folder may hold."""
    for entity in ENTITY_ORDER:
        pattern = re.compile(rf"{entity}_\d{{4}}-\d{{2}}-\d{{2}}\.csv")
        folder = out / entity
        if folder.is_dir():
            for path in folder.iterdir():
                if pattern.fullmatch(path.name):
                    path.unlink()
    (out / MANIFEST).unlink(missing_ok=True)


@contextmanager
def _duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    settings = workspace()
    con = duckdb.connect()
    try:
        con.execute(f"set threads = {settings.duckdb_threads}")
        con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
        # Row order is what makes the output byte-identical between runs.
        con.execute("set preserve_insertion_order = true")
        # Progress is ours to show (tqdm, on request); DuckDB's own bar would print on long queries.
        con.execute("set enable_progress_bar = false")
        yield con
    finally:
        con.close()


class _Steps:
    """Progress over the generation steps (a no-op unless asked for)."""

    def __init__(self, enabled: bool) -> None:
        self._bar = tqdm(total=len(STEPS), desc="generate", unit="step", file=sys.stderr, disable=not enabled)

    def start(self, step: str) -> None:
        self._bar.set_postfix_str(step)

    def done(self) -> None:
        self._bar.update()

    def close(self) -> None:
        self._bar.close()


def _build(p: Params, steps: _Steps) -> tuple[dict[str, Rows], Orders]:
    """All record versions per entity (clean first, then dirty) and the per-order facts."""
    steps.start("customers")
    cust = build_customers(p)
    steps.done()
    steps.start("orders")
    order_facts = build_orders(p, cust)
    steps.done()
    steps.start("tickets")
    tickets = build_tickets(p, cust, order_facts)
    steps.done()
    steps.start("dirty rows")
    clean = {"orders": order_facts.rows, "contacts": cust.contacts, "tickets": tickets.rows}
    rows = {entity: add_dirty(p, entity, clean[entity]) for entity in ENTITY_ORDER}
    steps.done()
    return rows, order_facts


def _write_all(p: Params, rows: dict[str, Rows], out: Path, steps: _Steps) -> dict[str, tuple[Path, ...]]:
    widths = Widths(
        order=id_width(p.orders, 8), customer=id_width(p.customers, 7), ticket=id_width(p.orders, 8)
    )
    files = {}
    with _duckdb() as con:
        for entity in ENTITY_ORDER:
            steps.start(f"write {entity}")
            files[entity] = tuple(write_entity(con, p, entity, sort_rows(rows[entity]), out / entity, widths))
            steps.done()
    return files


def generate(
    out: Path,
    customers: int,
    orders: int,
    seed: int,
    dirty: float = 0.0,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
    progress: bool = False,
) -> GenerationResult:
    """Write deterministic sample exports for ``seed`` into ``out`` (replacing an earlier run)."""
    began = time.perf_counter()
    p = Params(customers=customers, orders=orders, seed=seed, dirty=dirty, start=start, end=end)
    out = Path(out)
    _clear(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = _Steps(progress)
    try:
        rows, order_facts = _build(p, steps)
        files = _write_all(p, rows, out, steps)
        steps.start("manifest")
        manifest = build_manifest(p, rows, order_facts, {e: len(paths) for e, paths in files.items()})
        write_manifest(out / MANIFEST, manifest)
        steps.done()
    finally:
        steps.close()
    dirty_by_kind: dict[str, int] = manifest["dirty"]["by_kind"]
    return GenerationResult(
        out=out,
        manifest=out / MANIFEST,
        files=files,
        rows_written={entity: len(entity_rows) for entity, entity_rows in rows.items()},
        clean_rows={entity: counts["rows"] for entity, counts in manifest["clean"].items()},
        dirty_rows=dirty_by_kind,
        distinct_orders=order_facts.count,
        distinct_customers=p.customers,
        elapsed_seconds=round(time.perf_counter() - began, 3),
    )
