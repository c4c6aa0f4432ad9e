"""Measure ingestion against a bare DuckDB ``read_csv`` of the same files.

    .venv/bin/python examples/benchmark/ingest_vs_read_csv.py --rows 10000000 --files 10 --out /tmp/tw-bench

Writes ``--files`` daily order exports in the sample layout (canonical columns) with
DuckDB ``COPY`` from ``range()``, then times, each into a fresh DuckDB file:

1. bare:   ``create table t as select * from read_csv('orders/*.csv')`` (type detection, no checks);
2. ingest: ``ingest_source`` with config/sources/orders.yml (checksums, duplicate detection,
           typing with try_cast, hard rules, quarantine, manifest).

The data is clean apart from 0.1% duplicate lines and 0.1% negative amounts, so both
paths write about the same rows. Each is run ``--repeat`` times, alternating; the best wall
time and the best CPU time (all DuckDB threads, from getrusage) of each are compared. CPU time
is the steadier measure on a shared machine, where wall time mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb

from tierwise.context import RunContext, workspace
from tierwise.ingest import ingest_source, load_source_config

REPO = Path(__file__).resolve().parents[2]
FIRST_DAY = date(2024, 1, 1)


def generate(out: Path, rows: int, files: int) -> None:
    folder = out / "data" / "orders"
    if folder.exists() and len(list(folder.glob("*.csv"))) == files:
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    per_file = rows // files
    with duckdb.connect() as con:
        for index in range(files):
            day = FIRST_DAY + timedelta(days=index)
            con.execute(_day_sql(day, index * per_file, per_file, folder / f"orders_{day.isoformat()}.csv"))


def _day_sql(day: date, offset: int, count: int, path: Path) -> str:
    # Every 1000th row repeats the row before it (an exact duplicate line) and every 997th has
    # a negative amount, so that the quarantine path does real work too.
    return f"""
        copy (
            select 'O' || (j + {offset}) as order_id, 1 as line_no,
                'C' || (hash(j + {offset}) % 200000) as customer_id,
                strftime(timestamp '{day}' + to_seconds(j % 86000), '%Y-%m-%d %H:%M:%S') as ordered_at,
                ['completed', 'cancelled', 'refunded', 'partially_returned'][1 + (j % 4)] as status,
                ['EUR', 'GBP', 'USD'][1 + (j % 3)] as currency,
                case when i % 997 = 5 then -1.00 else round((j % 50000) / 100.0 + 1, 2) end as gross_amount,
                round((j % 700) / 100.0, 2) as discount_amount,
                0.00 as refunded_amount,
                ['card', 'paypal', 'invoice'][1 + (j % 3)] as payment_method,
                null::varchar as parent_order_id,
                strftime(timestamp '{day}' + to_seconds(j % 86000), '%Y-%m-%d %H:%M:%S') as updated_at
            from (select i, i - (i % 1000 = 999)::int as j from range({count}) as r(i))
        ) to '{path}' (header, delimiter ',')
    """


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fresh(path: Path) -> Path:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    return path


def bare_read(out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of a plain read_csv into a table."""
    settings = workspace()
    wall, cpu = time.perf_counter(), _cpu()
    with duckdb.connect(str(_fresh(out / "bare.duckdb"))) as con:
        con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
        con.execute(f"set threads = {settings.duckdb_threads}")
        con.execute(f"create table t as select * from read_csv('{out / 'data' / 'orders'}/*.csv')")
    return time.perf_counter() - wall, _cpu() - cpu


def ingest(out: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of ingest_source, and its summary line."""
    config = load_source_config(REPO / "config" / "sources" / "orders.yml")
    wall, cpu = time.perf_counter(), _cpu()
    warehouse = _fresh(out / "ingest.duckdb")
    ctx = RunContext.create("bench", settings=replace(workspace(), warehouse=warehouse))
    report = ingest_source(config, engine=ctx.engine, data_dir=out / "data", run_id=ctx.run_id)
    return time.perf_counter() - wall, _cpu() - cpu, report.summary_line()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/tierwise-ingest-bench"))
    args = parser.parse_args()
    generate(args.out, args.rows, args.files)
    bare_runs, ingest_runs, summary = [], [], ""
    for _ in range(args.repeat):
        bare_runs.append(bare_read(args.out))
        wall, cpu, summary = ingest(args.out)
        ingest_runs.append((wall, cpu))
        bare_wall, bare_cpu = bare_runs[-1]
        print(f"bare {bare_wall:.1f}s wall / {bare_cpu:.1f}s cpu, ingest {wall:.1f}s / {cpu:.1f}s")
    print(summary)
    for index, measure in enumerate(("wall", "cpu")):
        bare = min(run[index] for run in bare_runs)
        best = min(run[index] for run in ingest_runs)
        print(f"{measure}: bare read_csv {bare:.1f}s, ingest_source {best:.1f}s, ratio {best / bare:.2f}x")


if __name__ == "__main__":
    main()
