"""``ingest_source``: load the files of one source into raw, idempotently.

Per file: checksum -> skip when the manifest already has this content with this
config -> read its header. Files that share a header are then staged together
in one DuckDB read (up to ``BATCH_BYTES`` of input), typed, mapped and checked in
SQL, and written: each file's earlier rows (or its slice's) are replaced and the
load is recorded in ``ops.load_manifest``, one row per file. A run for a data
interval does all of that in one transaction; a full run commits batch by batch,
so that an interrupted first load resumes where it stopped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from tierwise.engine import Engine, transaction
from tierwise.exceptions import CorruptFileError, IngestError
from tierwise.ingest import manifest, storage
from tierwise.ingest.config import FormatOptions, SourceConfig, load_source_config
from tierwise.ingest.derived import load_multi_file
from tierwise.ingest.files import (
    FileStat,
    SourceFile,
    exists,
    inspect_content,
    list_files,
    resolve_pattern,
    stat_file,
)
from tierwise.ingest.manifest import ManifestEntry
from tierwise.ingest.mapping import (
    create_result,
    create_typed_view,
    future_cutoff,
    mark_duplicates,
    plan_fields,
)
from tierwise.ingest.readers import BatchFile, Staged, columns_of, stage_batch
from tierwise.ingest.report import (
    EMPTY,
    FAILED,
    LOADED,
    MOVED,
    UNCHANGED,
    VANISHED,
    FileResult,
    IngestReport,
)
from tierwise.ingest.runs import LoadRun
from tierwise.ingest.tables import ensure_every_entity
from tierwise.ingest.writes import Counts, delete_previous, insert_rows
from tierwise.schema import ENTITIES

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_READERS = min(4, os.cpu_count() or 1)
"""Threads that hash and count the lines of local files."""
BATCH_BYTES = 256 * 1024 * 1024
"""Input bytes staged per DuckDB read: many small daily files share one read, big ones do not."""
_TEMP_VIEWS = ("_tw_typed", "_tw_lined")
_TEMP_TABLES = (
    "_tw_result",
    "_tw_stage",
    "_tw_lines",
    "_tw_files",
    "_tw_reject_lines",
    "_tw_shifts",
    "_tw_rejects",
    "_tw_reject_scans",
)


@dataclass(frozen=True)
class _Candidate:
    """A file to load: changed or new since the manifest last saw it."""

    file: SourceFile
    stat: FileStat
    columns: tuple[str, ...] | None
    """None when the file holds nothing at all."""
    sliced: bool
    replaced: bool

    @property
    def path(self) -> str:
        return self.file.path


def ingest_source(
    config: SourceConfig | Path,
    *,
    engine: Engine,
    data_dir: Path,
    interval: tuple[date, date] | None = None,
    run_id: str,
) -> IngestReport:
    """Load a source's files into ``raw.<entity>``; rows that break a hard rule go to quarantine.

    ``interval`` is a data interval, start inclusive and end exclusive (Airflow's convention):
    files whose name carries a date in it are loaded whole; files without a date contribute
    the rows whose ``interval_column`` falls in it. Without an interval every file is loaded.
    """
    started = time.perf_counter()
    source = config if isinstance(config, SourceConfig) else load_source_config(config)
    _check_interval(interval)
    run = LoadRun(source, interval, run_id, _utc_now(), source.fingerprint())
    root = data_dir
    with engine.connect() as con:
        storage.prepare(con, source, resolve_pattern(source, root))
        # Every entity's tables, not only this source's: a shop without a CRM export never loads
        # contacts or tickets, and dbt reads them all (as no rows).
        ensure_every_entity(con)
        if source.multi_file:
            results, warnings = load_multi_file(con, run, root)
        else:
            files = [f for f in list_files(con, source, root) if _in_interval(f, interval)]
            results, warnings = _load_all(con, run, files)
        _drop_temp(con)
        # On Spark, the loads that changed go on to Spark's raw tables (every entity's: dbt
        # reads them all); a failure here fails the stage, and its rerun sends them again.
        engine.after_ingest(con, [f"raw.{entity}" for entity in ENTITIES])
    report = IngestReport.from_files(
        source=source.name,
        entity=source.entity,
        run_id=run_id,
        interval=interval,
        files=tuple(results),
        elapsed_seconds=time.perf_counter() - started,
        warnings=tuple(warnings),
    )
    log.info(report.summary_line())
    _fail_on_damaged(report)
    return report


def _fail_on_damaged(report: IngestReport) -> None:
    """The other files are loaded and committed; the run still fails, naming each damaged file."""
    failed = [result for result in report.files if result.status == FAILED]
    if failed:
        errors = "; ".join(result.error for result in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise IngestError(
            f"{report.source}: {len(failed)} damaged file(s) not loaded{more}, the others were "
            f"({report.summary_line()}): {errors}"
        )


def _utc_now() -> datetime:
    # Load metadata only (_loaded_at); no business rule depends on the wall clock.
    return datetime.now(UTC).replace(tzinfo=None)


def _check_interval(interval: tuple[date, date] | None) -> None:
    if interval is not None and not interval[0] < interval[1]:
        raise IngestError(
            f"data interval {interval[0]} .. {interval[1]} is empty: the end is exclusive, "
            "so one day is (day, day + 1)"
        )


def _in_interval(source_file: SourceFile, interval: tuple[date, date] | None) -> bool:
    if interval is None or source_file.file_date is None:
        return True
    return interval[0] <= source_file.file_date < interval[1]


class _Vanished(Exception):
    """Files of a batch disappeared while DuckDB read it; the transaction is gone with them."""

    def __init__(self, candidates: list[_Candidate]) -> None:
        super().__init__(", ".join(c.path for c in candidates))
        self.candidates = candidates


def _load_all(
    con: duckdb.DuckDBPyConnection, run: LoadRun, files: list[SourceFile]
) -> tuple[list[FileResult], list[str]]:
    warnings: list[str] = []
    if not files:
        warnings.append(f"{run.config.name}: no file in the interval {run.interval}")
    results: dict[str, FileResult] = {}
    while True:
        # A failed read aborts DuckDB's transaction, so a vanished file means starting over
        # without it: the whole interval run, or (full run) the batches not committed yet.
        committed = {} if run.interval else results
        try:
            with transaction(con) if run.interval else nullcontext():
                _load_files(con, run, [f for f in files if f.path not in results], warnings, committed)
        except _Vanished as gone:
            results.update({c.path: _vanished(c.file, warnings) for c in gone.candidates})
            continue
        results.update(committed)
        return [results[f.path] for f in files], warnings


def _load_files(
    con: duckdb.DuckDBPyConnection,
    run: LoadRun,
    files: list[SourceFile],
    warnings: list[str],
    results: dict[str, FileResult],
) -> None:
    pending = []
    for outcome in _inspect_all(con, run, files, warnings):
        if isinstance(outcome, FileResult):
            results[outcome.path] = outcome
        else:
            pending.append(outcome)
    # An interval's slice is replaced as a whole or not at all (the caller's transaction);
    # a full load commits batch by batch.
    for batch in _batches(pending):
        with nullcontext() if run.interval else transaction(con):
            results.update(_load_batch(con, run, batch, warnings))


def _inspect_all(
    con: duckdb.DuckDBPyConnection, run: LoadRun, files: list[SourceFile], warnings: list[str]
) -> Iterator[FileResult | _Candidate]:
    """Each file's outcome, in order; the manifest is read for all of them at once."""
    stats = _in_threads(files, lambda f: stat_file(con, f))
    keys = {f.path: run.key(f.path, stat.checksum, _sliced(run, f)) for f in files if (stat := stats[f.path])}
    known = manifest.lookup(con, list(keys.values()))
    # The files to load are read once more (gzip check, line count): also in threads, ahead.
    contents = _in_threads(
        [f for f in files if f.path in keys and not known[f.path].loaded],
        lambda f: _content(f, run.config.format),
    )
    for position, source_file in enumerate(files):
        stat = stats[source_file.path]
        if stat is None:
            yield _vanished(source_file, warnings)
            continue
        outcome = _inspect(con, run, source_file, stat, contents, known[source_file.path], warnings)
        if isinstance(outcome, FileResult) and outcome.status == MOVED:
            # The relocation changed the manifest: the files after this one are looked up again.
            later = [keys[f.path] for f in files[position + 1 :] if f.path in keys]
            known = manifest.lookup(con, later)
        yield outcome


def _in_threads(files: list[SourceFile], work: Callable[[SourceFile], _T]) -> dict[str, _T]:
    """``work`` for each file, by path: local files in threads, remote ones on this thread.

    Hashing and counting lines release the GIL, so the cores share the reading of hundreds of
    files; a remote file goes through the DuckDB connection, which is not shared across threads.
    """
    local = [f for f in files if not f.remote]
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        done = dict(zip((f.path for f in local), pool.map(work, local), strict=True))
    return {f.path: done[f.path] if f.path in done else work(f) for f in files}


def _content(source_file: SourceFile, fmt: FormatOptions) -> int | CorruptFileError | None:
    """inspect_content's line count, or its error as a value (raised in a thread, reported in order)."""
    try:
        return inspect_content(source_file, fmt)
    except CorruptFileError as error:
        return error


def _sliced(run: LoadRun, source_file: SourceFile) -> bool:
    return run.interval is not None and source_file.file_date is None


def _inspect(
    con: duckdb.DuckDBPyConnection,
    run: LoadRun,
    source_file: SourceFile,
    stat: FileStat,
    contents: dict[str, int | CorruptFileError | None],
    known: manifest.KnownFile,
    warnings: list[str],
) -> FileResult | _Candidate:
    """Unchanged, moved, damaged or vanished files end here; the others become candidates."""
    if known.loaded:
        return FileResult(source_file.path, UNCHANGED, source_file.file_date, stat.checksum)
    moved = None if source_file.remote else known.moved_from(source_file.path, _gone)
    if moved:
        with nullcontext() if run.interval else transaction(con):
            manifest.relocate(con, run.config.name, run.config.schema, moved, source_file.path)
        warnings.append(f"{source_file.path}: same content as {moved}, which is gone: moved, not reloaded")
        return FileResult(source_file.path, MOVED, source_file.file_date, stat.checksum)
    path = source_file.path
    content = contents[path] if path in contents else _content(source_file, run.config.format)
    if isinstance(content, CorruptFileError):
        # Not recorded in the manifest: the next run checks the file again and fails again
        # until it is replaced; an earlier good version of it keeps its rows meanwhile.
        warnings.append(str(content))
        return FileResult(source_file.path, FAILED, source_file.file_date, error=str(content))
    stat = replace(stat, lines=content)
    try:
        columns = columns_of(con, run.config, source_file.path) if stat.size else None
    except (FileNotFoundError, duckdb.IOException):
        if not exists(source_file):
            return _vanished(source_file, warnings)
        raise
    return _Candidate(source_file, stat, columns, _sliced(run, source_file), known.seen)


def _gone(path: str) -> bool:
    return not os.path.exists(path)


def _batches(candidates: list[_Candidate]) -> Iterator[list[_Candidate]]:
    """Consecutive files with the same columns, up to BATCH_BYTES; an empty file on its own."""
    batch: list[_Candidate] = []
    size = 0
    for candidate in candidates:
        fits = batch and batch[0].columns == candidate.columns and size + candidate.stat.size <= BATCH_BYTES
        if batch and (not fits or candidate.columns is None):
            yield batch
            batch, size = [], 0
        batch.append(candidate)
        size += candidate.stat.size
        if candidate.columns is None:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _vanished(source_file: SourceFile, warnings: list[str]) -> FileResult:
    # Listed, then gone before it was read (an export being rewritten or moved): nothing was
    # written for it, and the next run picks it up again if it comes back.
    warnings.append(f"{source_file.path}: disappeared before it could be read; not loaded")
    return FileResult(source_file.path, VANISHED, source_file.file_date)


def _load_batch(
    con: duckdb.DuckDBPyConnection, run: LoadRun, batch: list[_Candidate], warnings: list[str]
) -> dict[str, FileResult]:
    if batch[0].columns is None:
        return {batch[0].path: _load_empty(con, run, batch[0])}
    staged = _stage(con, run, batch)
    files = _batch_files(run, batch)
    delete_previous(con, run.target, [f for c, f in zip(batch, files, strict=True) if c.replaced])
    counts, new_columns = _transform_and_write(con, run, staged, _label(batch), warnings)
    results = {
        candidate.path: _file_result(candidate, counts.get(file.index), new_columns)
        for candidate, file in zip(batch, files, strict=True)
    }
    manifest.record_all(con, [_entry(run, c, results[c.path]) for c in batch])
    return results


def _batch_files(run: LoadRun, batch: list[_Candidate]) -> list[BatchFile]:
    return [
        BatchFile(
            index=index,
            path=c.path,
            checksum=c.stat.checksum,
            file_date=c.file.file_date,
            cutoff=future_cutoff(c.file.file_date, run.interval),
            sliced=c.sliced,
            lines=c.stat.lines,
        )
        for index, c in enumerate(batch)
    ]


def _stage(con: duckdb.DuckDBPyConnection, run: LoadRun, batch: list[_Candidate]) -> Staged:
    try:
        return stage_batch(con, run.config, _batch_files(run, batch), batch[0].columns or ())
    except duckdb.IOException as error:
        missing = [c for c in batch if not exists(c.file)]
        if missing:
            raise _Vanished(missing) from None
        raise IngestError(f"{_label(batch)}: could not be read: {str(error).splitlines()[0]}") from None


def _label(batch: list[_Candidate]) -> str:
    more = f" (and {len(batch) - 1} more files with the same columns)" if len(batch) > 1 else ""
    return batch[0].path + more


def _transform_and_write(
    con: duckdb.DuckDBPyConnection, run: LoadRun, staged: Staged, label: str, warnings: list[str]
) -> tuple[dict[int, Counts], tuple[str, ...]]:
    config = run.config
    if config.duplicates == "quarantine":
        mark_duplicates(con, staged.columns)
    create_typed_view(con, config, staged.columns)
    plans, plan_warnings = plan_fields(con, config, staged.columns, label)
    warnings.extend(plan_warnings)
    create_result(con, config, plans, staged.columns, run.interval, label)
    new_columns = _new_columns(config, staged.columns)
    counts = insert_rows(con, run.target, staged.raw_line_sql, new_columns)
    if new_columns:
        warnings.append(f"{label}: new columns kept in ops.extra_columns: {', '.join(new_columns)}")
    return counts, new_columns


def _file_result(candidate: _Candidate, counts: Counts | None, new_columns: tuple[str, ...]) -> FileResult:
    counts = counts or Counts(0, 0, 0, {})
    return FileResult(
        path=candidate.path,
        status=LOADED,
        file_date=candidate.file.file_date,
        checksum=candidate.stat.checksum,
        rows_read=counts.read,
        rows_loaded=counts.loaded,
        rows_quarantined=counts.quarantined,
        quarantined_by_reason=counts.by_reason,
        new_columns=new_columns,
        replaced=candidate.replaced,
    )


def _load_empty(con: duckdb.DuckDBPyConnection, run: LoadRun, candidate: _Candidate) -> FileResult:
    if run.config.files.empty_files == "error":
        raise IngestError(
            f"{candidate.path}: the file is empty (no header, no rows), which usually means a broken "
            f"export; set files.empty_files: skip in {run.config.origin} to accept empty files"
        )
    if candidate.replaced:
        delete_previous(con, run.target, _batch_files(run, [candidate]))
    result = FileResult(
        candidate.path, EMPTY, candidate.file.file_date, candidate.stat.checksum, replaced=candidate.replaced
    )
    manifest.record_all(con, [_entry(run, candidate, result)])
    return result


def _entry(run: LoadRun, candidate: _Candidate, result: FileResult) -> ManifestEntry:
    key = run.key(candidate.path, candidate.stat.checksum, candidate.sliced)
    return ManifestEntry(
        key, run.config.entity, candidate.stat.size, result, run.interval, run.loaded_at, run.run_id
    )


def _new_columns(config: SourceConfig, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Export columns the config neither maps, reads in an expression, nor lists as ignored."""
    known = (
        set(config.referenced_columns)
        | {name.lower() for name in config.schema.columns}
        | {name.lower() for name in config.ignore_columns}
    )
    return tuple(name for name in columns if name.lower() not in known)


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for view in _TEMP_VIEWS:
        con.execute(f"drop view if exists {view}")
    for table in _TEMP_TABLES:
        con.execute(f"drop table if exists {table}")
