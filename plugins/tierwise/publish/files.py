"""Snapshot files of customer_tiers: CSV and Parquet per evaluation, plus a "latest" CSV.

Readers (spreadsheets, a BI tool, another team's job) may open a file at any moment, so
every file is written next to its target and moved into place with ``os.replace``: a
reader sees the old complete file or the new complete file, never half of one.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from tierwise.masking import get_logger
from tierwise.publish import state
from tierwise.publish.report import StreamReport
from tierwise.publish.sources import tier_columns

log = get_logger(__name__)

STREAM = "files.customer_tiers"


def snapshot_paths(target_dir: Path, as_of: date) -> tuple[Path, Path, Path]:
    stem = f"customer_tiers_{as_of.isoformat()}"
    return (
        target_dir / f"{stem}.csv",
        target_dir / f"{stem}.parquet",
        target_dir / "customer_tiers_latest.csv",
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, produce: Callable[[Path], None]) -> None:
    """Call ``produce(temp_path)`` and move the result onto ``target`` in one step."""
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        produce(temp)
        _fsync(temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    # Persist the rename itself, so a power cut cannot bring back the old file.
    _fsync(target.parent)


def _copy_to(
    con: duckdb.DuckDBPyConnection, query: str, options: str, params: list[object]
) -> Callable[[Path], None]:
    def produce(temp: Path) -> None:
        literal = str(temp).replace("'", "''")
        con.execute(f"copy ({query}) to '{literal}' ({options})", params)

    return produce


def _copy_of(source: Path) -> Callable[[Path], None]:
    def produce(temp: Path) -> None:
        shutil.copyfile(source, temp)

    return produce


def export_files(
    con: duckdb.DuckDBPyConnection, as_of: date, target_dir: Path, *, run_id: str, dry_run: bool
) -> StreamReport:
    started = time.perf_counter()
    csv_path, parquet_path, latest_path = snapshot_paths(target_dir, as_of)
    paths = (csv_path, parquet_path, latest_path)
    columns = ", ".join(state.quote(name) for name, _ in tier_columns(con))
    query = f"select {columns} from marts.customer_tiers where as_of_date = ? order by customer_id"
    row = con.execute("select count(*) from marts.customer_tiers where as_of_date = ?", [as_of]).fetchone()
    rows = int(row[0]) if row else 0
    if dry_run:
        return StreamReport(
            "files", STREAM, "dry_run", total=rows, elapsed=time.perf_counter() - started, paths=paths
        )
    attempt = state.start_run(con, run_id, STREAM)
    target_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(csv_path, _copy_to(con, query, "format csv, header true, delimiter ','", [as_of]))
    write_atomically(parquet_path, _copy_to(con, query, "format parquet, compression zstd", [as_of]))
    write_atomically(latest_path, _copy_of(csv_path))
    report = StreamReport(
        "files",
        STREAM,
        "ok",
        total=rows,
        new=rows,
        sent=rows,
        elapsed=time.perf_counter() - started,
        paths=paths,
    )
    state.finish_run(con, run_id, STREAM, attempt, report)
    log.info("files: wrote %d rows to %s", rows, target_dir)
    return report
