"""Snapshot files of customer_tiers: CSV and Parquet per evaluation, plus a "latest" CSV.

Readers (spreadsheets, a BI tool, another team's job) may open a file at any moment, so
every file is written next to its target and moved into place with ``os.replace``: a
reader sees the old complete file or the new complete file, never half of one.

The published Parquet file is the state of this destination: the mart is compared with
it row by row (new, changed, removed customers), and when nothing differs and the CSV
and "latest" files are in place, nothing is written and the files stay byte-identical.
A rebuilt evaluation (late data, a changed ladder) rewrites all three.
"""

from __future__ import annotations

import filecmp
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


def _remove_abandoned(target_dir: Path) -> None:
    """Temporary files left by a writer killed mid-write (``kill -9`` runs no ``finally``).

    Publishing holds the warehouse's write lock, so no other writer of these files is at work;
    every publish removes them, whether or not it writes a file itself.
    """
    for abandoned in target_dir.glob(".customer_tiers_*.tmp"):
        abandoned.unlink(missing_ok=True)


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


_NOTHING_PUBLISHED = "(select null::varchar as customer_id where false)"


def _file_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    """Column names and types of a published Parquet file; none when missing or unreadable."""
    if not path.exists():
        return []
    try:
        return [
            (str(row[0]), str(row[1]))
            for row in con.execute(f"describe select * from {_scan(path)}").fetchall()
        ]
    except duckdb.Error as error:
        log.warning("files: cannot read %s (%s); it is written again", path, error)
        return []


def _scan(path: Path) -> str:
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def _same_columns(mart: list[tuple[str, str]], found: list[tuple[str, str]]) -> bool:
    """The file holds the mart's columns in the mart's types (Parquet writes HUGEINT as DOUBLE)."""
    written = [(name, "DOUBLE" if kind == "HUGEINT" else kind) for name, kind in mart]
    return written == found


def _compared(
    con: duckdb.DuckDBPyConnection, mart: list[tuple[str, str]], path: Path
) -> tuple[str, str, str]:
    """What to compare: the mart's select list, the file's rows, and when a row differs.

    With the same columns in the same types, the mart's values are compared in the file's
    types (only a HUGEINT differs: DOUBLE in Parquet), column by column, several times faster
    than hashing both sides. Any other difference, a type included, changes every row.
    """
    columns = [name for name, _ in mart]
    found = _file_columns(con, path)
    names = [name for name, _ in found]
    if _same_columns(mart, found):
        casts = ", ".join(f"{state.quote(name)}::{kind} as {state.quote(name)}" for name, kind in found)
        differs = " or ".join(
            f"cur.{state.quote(name)} is distinct from pub.{state.quote(name)}"
            for name in names
            if name != "customer_id"
        )
        return casts, _scan(path), differs or "false"
    plain = ", ".join(state.quote(name) for name in columns)
    if "customer_id" not in names:
        return plain, _NOTHING_PUBLISHED, "true"
    # Other columns (the mart gained or lost one): every customer still there has changed.
    return plain, f"(select customer_id::varchar as customer_id from {_scan(path)})", "true"


def _diff(
    con: duckdb.DuckDBPyConnection, mart: list[tuple[str, str]], as_of: date, path: Path
) -> dict[str, int]:
    """Rows of the mart against the published Parquet file, by customer_id: counts per kind."""
    select, published, differs = _compared(con, mart, path)
    row = con.execute(
        f"""
        select count(*) filter (pub.customer_id is null),
            count(*) filter (cur.customer_id is not null and pub.customer_id is not null and ({differs})),
            count(*) filter (cur.customer_id is not null and pub.customer_id is not null and not ({differs})),
            count(*) filter (cur.customer_id is null)
        from (select {select} from marts.customer_tiers where as_of_date = ?) as cur
        full join {published} as pub on pub.customer_id = cur.customer_id
        """,
        [as_of],
    ).fetchone()
    new, changed, unchanged, deleted = (int(value) for value in row) if row else (0, 0, 0, 0)
    return {"new": new, "changed": changed, "unchanged": unchanged, "deleted": deleted}


def _in_place(paths: tuple[Path, Path, Path], counts: dict[str, int]) -> bool:
    """Nothing to write: no row differs from the Parquet file, CSV and "latest" are its copies."""
    csv_path, _, latest_path = paths
    if counts["new"] or counts["changed"] or counts["deleted"]:
        return False
    return csv_path.exists() and latest_path.exists() and filecmp.cmp(csv_path, latest_path, shallow=False)


def _write(con: duckdb.DuckDBPyConnection, query: str, as_of: date, paths: tuple[Path, Path, Path]) -> None:
    csv_path, parquet_path, latest_path = paths
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(csv_path, _copy_to(con, query, "format csv, header true, delimiter ','", [as_of]))
    write_atomically(parquet_path, _copy_to(con, query, "format parquet, compression zstd", [as_of]))
    write_atomically(latest_path, _copy_of(csv_path))


def export_files(
    con: duckdb.DuckDBPyConnection, as_of: date, target_dir: Path, *, run_id: str, dry_run: bool
) -> StreamReport:
    started = time.perf_counter()
    paths = snapshot_paths(target_dir, as_of)
    mart = tier_columns(con)
    select = ", ".join(state.quote(name) for name, _ in mart)
    query = f"select {select} from marts.customer_tiers where as_of_date = ? order by customer_id"
    if not dry_run:
        _remove_abandoned(target_dir)
    counts = _diff(con, mart, as_of, paths[1])
    rows = counts["new"] + counts["changed"] + counts["unchanged"]
    write = not _in_place(paths, counts)
    attempt = None if dry_run else state.start_run(con, run_id, STREAM)
    if write and attempt is not None:
        _write(con, query, as_of, paths)
    report = StreamReport(
        "files",
        STREAM,
        "dry_run" if dry_run else "ok",
        total=rows,
        new=counts["new"],
        changed=counts["changed"],
        unchanged=counts["unchanged"],
        deleted=counts["deleted"],
        sent=rows if write and not dry_run else 0,
        applied=len(paths) if write else 0,  # files (to be) written
        elapsed=time.perf_counter() - started,
        paths=paths,
    )
    if attempt is not None:
        state.finish_run(con, run_id, STREAM, attempt, report)
        log.info("%s", report.summary_line())
    return report
