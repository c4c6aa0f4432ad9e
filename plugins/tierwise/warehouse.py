"""DuckDB connection helpers: one place that opens the warehouse.

DuckDB lets one process open a database file for writing, or any number of processes open it
read-only, never both: a conflicting open fails at once with "Could not set lock on file". A
second run, a stage started by hand next to a scheduled one, or an analyst's notebook holding
the file all cause that. Every open of the warehouse goes through :func:`wait_for_lock`
(:func:`connect`, :func:`attach`, and the transform stage around dbt-duckdb's own open):
it retries with backoff for ``TIERWISE_WAREHOUSE_LOCK_TIMEOUT`` seconds, then raises
:class:`WarehouseLockedError` naming the warehouse, the process DuckDB says holds the lock, and
what to do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeGuard, TypeVar

import duckdb
import tenacity

from tierwise.console import progress
from tierwise.exceptions import WarehouseLockedError
from tierwise.settings import get_settings

T = TypeVar("T")
LOCK_CONFLICT = "Could not set lock on file"
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
log = logging.getLogger(__name__)


def is_lock_conflict(error: BaseException | None) -> TypeGuard[duckdb.IOException]:
    """True for DuckDB's error when another process holds a conflicting lock on the file."""
    return isinstance(error, duckdb.IOException) and LOCK_CONFLICT in str(error)


def lock_holder(error: BaseException) -> str:
    """The process holding the lock, as DuckDB reports it ("another process" when it does not)."""
    match = _HOLDER.search(str(error))
    return f"process {match['pid']} ({match['program']})" if match else "another process"


def locked_error(path: Path, error: BaseException, timeout: float) -> WarehouseLockedError:
    return WarehouseLockedError(
        f"the warehouse {path} is locked by {lock_holder(error)} and stayed locked for the {timeout:g}s "
        "a stage waits (TIERWISE_WAREHOUSE_LOCK_TIMEOUT). DuckDB lets one process write the file or "
        "several read it, not both. Close the connection that holds it (a DuckDB CLI, notebook or BI "
        "tool: point those at publish/bi/marts.duckdb instead) or let the other Tierwise run finish, "
        "then run this stage again."
    )


def _wait(timeout: float) -> Callable[[tenacity.RetryCallState], float]:
    """Back off from 50 ms to 1 s between attempts, never sleeping past the timeout."""
    backoff = tenacity.wait_exponential(multiplier=0.05, max=1.0)

    def wait(state: tenacity.RetryCallState) -> float:
        return min(backoff(state), max(0.0, timeout - (state.seconds_since_start or 0.0)))

    return wait


def _report_wait(path: Path, timeout: float) -> Callable[[tenacity.RetryCallState], None]:
    def report(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if state.attempt_number == 1 and error is not None:
            progress("warehouse", f"{path} is locked by {lock_holder(error)}; waiting up to {timeout:g}s")
        log.debug("warehouse %s still locked (attempt %d): %s", path, state.attempt_number, error)

    return report


def wait_for_lock(path: Path, open_once: Callable[[], T]) -> T:
    """Call ``open_once`` until DuckDB grants the lock on ``path`` or the lock timeout runs out.

    Any other error is raised at once; a lock held past the timeout raises WarehouseLockedError.
    """
    timeout = get_settings().warehouse_lock_timeout
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_lock_conflict),
        stop=tenacity.stop_after_delay(timeout),
        wait=_wait(timeout),
        before_sleep=_report_wait(path, timeout),
        reraise=True,
    )
    try:
        return retrying(open_once)
    except duckdb.IOException as error:
        if not is_lock_conflict(error):
            raise
        raise locked_error(path, error, timeout) from error


@contextmanager
def connect(path: Path | None = None, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with the configured memory limit and thread count, waiting for its lock."""
    settings = get_settings()
    target = path or settings.warehouse
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    con = wait_for_lock(target, lambda: duckdb.connect(str(target), read_only=read_only))
    try:
        con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
        con.execute(f"set threads = {settings.duckdb_threads}")
        yield con
    finally:
        con.close()


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, *, read_only: bool = True) -> None:
    """ATTACH a warehouse file to ``con`` under ``alias``, waiting for its lock like :func:`connect`."""
    mode = " (read_only)" if read_only else ""
    wait_for_lock(path, lambda: con.execute(f"attach '{path}' as \"{alias}\"{mode}"))


def probe(path: Path) -> None:
    """Open ``path`` for writing once and let go: raises DuckDB's lock error while it is held.

    For programs that open the file themselves (dbt-duckdb): call it inside :func:`wait_for_lock`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(path)).close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All statements inside or none: an error, or a kill before the commit, changes nothing."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise
