"""The DuckDB engine: one warehouse file, opened by one writer or many readers.

DuckDB lets one process open a database file for writing, or any number of processes open it
read-only, never both: a conflicting open fails at once with "Could not set lock on file". A
second run, a stage started by hand next to a scheduled one, or an analyst's notebook holding
the file all cause that. Every open of the warehouse goes through :func:`wait_for_lock`
(:meth:`DuckDBEngine.connect`, :meth:`DuckDBEngine.attach_to`, and :meth:`DuckDBEngine.exclusive`
around dbt-duckdb's own open): it retries with backoff for ``TIERWISE_WAREHOUSE_LOCK_TIMEOUT``
seconds, then raises :class:`WarehouseLockedError` naming the warehouse, the process DuckDB says
holds the lock, and what to do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import tenacity

from tierwise.console import progress
from tierwise.engine.base import WarehouseBusyError
from tierwise.exceptions import WarehouseLockedError
from tierwise.settings import EngineName, Settings

T = TypeVar("T")
LOCK_CONFLICT = "Could not set lock on file"
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
log = logging.getLogger(__name__)


def is_lock_conflict(error: BaseException | None) -> bool:
    """True for DuckDB's error when another process holds a conflicting lock on the file."""
    held = isinstance(error, duckdb.IOException | WarehouseBusyError)
    return held and LOCK_CONFLICT in str(error)


def lock_holder(error: BaseException | str) -> str:
    """The process holding the lock, as DuckDB reports it ("another process" when it does not)."""
    match = _HOLDER.search(str(error))
    return f"process {match['pid']} ({match['program']})" if match else "another process"


def locked_error(path: Path, error: BaseException | str, timeout: float) -> WarehouseLockedError:
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


def wait_for_lock(path: Path, open_once: Callable[[], T], timeout: float) -> T:
    """Call ``open_once`` until DuckDB grants the lock on ``path`` or ``timeout`` seconds pass.

    Any other error is raised at once; a lock held past the timeout raises WarehouseLockedError.
    """
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_lock_conflict),
        stop=tenacity.stop_after_delay(timeout),
        wait=_wait(timeout),
        before_sleep=_report_wait(path, timeout),
        reraise=True,
    )
    try:
        return retrying(open_once)
    except (duckdb.IOException, WarehouseBusyError) as error:
        if not is_lock_conflict(error):
            raise
        raise locked_error(path, error, timeout) from error


def open_file(path: Path, settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with the configured memory limit and threads, waiting for its lock."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = wait_for_lock(
        path, lambda: duckdb.connect(str(path), read_only=read_only), settings.warehouse_lock_timeout
    )
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
    con.execute(f"set threads = {settings.duckdb_threads}")
    return con


@contextmanager
def connect_file(
    path: Path, settings: Settings, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """:func:`open_file` as a context manager that closes the connection."""
    con = open_file(path, settings, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, timeout: float) -> None:
    """ATTACH a warehouse file to ``con`` read-only under ``alias``, waiting for its lock."""
    wait_for_lock(path, lambda: con.execute(f"attach '{path}' as \"{alias}\" (read_only)"), timeout)


def probe(path: Path) -> None:
    """Open ``path`` for writing once and let go: raises DuckDB's lock error while it is held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(path)).close()


@dataclass(frozen=True)
class DuckDBEngine:
    """The warehouse as one DuckDB file (``TIERWISE_WAREHOUSE``)."""

    settings: Settings

    @property
    def name(self) -> EngineName:
        return EngineName.DUCKDB

    @property
    def path(self) -> Path:
        return self.settings.warehouse

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def connect(self, *, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return connect_file(self.path, self.settings, read_only=read_only)

    def exclusive(self, work: Callable[[], T]) -> T:
        """Run ``work`` once the file's write lock is free, within the same timeout as every open.

        dbt-duckdb opens the file itself and fails at once on a held lock, before any hook or node
        runs: so the lock is probed first, and ``work`` raises :class:`WarehouseBusyError` when the
        lock was taken between the probe and its own open, to be waited for again.
        """

        def attempt() -> T:
            probe(self.path)
            return work()

        return wait_for_lock(self.path, attempt, self.settings.warehouse_lock_timeout)

    def busy(self, message: str) -> bool:
        return LOCK_CONFLICT in message

    def dbt_env(self) -> Mapping[str, str]:
        return {
            "TIERWISE_DBT_TARGET": "duckdb",
            "TIERWISE_WAREHOUSE": str(self.path),
            "TIERWISE_DBT_THREADS": str(self.settings.dbt_threads),
            "TIERWISE_DUCKDB_MEMORY_LIMIT": self.settings.duckdb_memory_limit,
            "TIERWISE_DUCKDB_THREADS": str(self.settings.duckdb_threads),
        }

    def dbt_launcher(self) -> str:
        return "from dbt.cli.main import cli; cli()"

    def attach_to(self, con: duckdb.DuckDBPyConnection, alias: str) -> None:
        attach(con, self.path, alias, self.settings.warehouse_lock_timeout)

    def after_ingest(self, con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, Any]:
        """Nothing to hand on: dbt reads the raw tables ingest wrote."""
        return {}

    def after_build(self) -> dict[str, Any]:
        """Nothing to fetch: dbt wrote the marts into this file."""
        return {}
