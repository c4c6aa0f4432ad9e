"""The Spark engine: dbt and the quality gates run on Apache Spark, the ledger stays in DuckDB.

On Spark the warehouse is two places:

- **Spark's catalog** holds the data: the raw layer (Parquet tables partitioned by the file each
  row came from) and everything dbt builds (staging, intermediate, marts). dbt runs through
  dbt-spark's session method as a Spark Connect client; the GX gates validate Spark tables with
  GX's Spark execution engine.
- **The ledger**, a DuckDB file (``TIERWISE_WAREHOUSE``), holds what must change in
  transactions, which Parquet tables do not give (that needs Delta or Iceberg): the load
  manifest and quarantine, quality results, the build state and publishing's sync state.
  Ingest validates each file into the ledger as on DuckDB (it is per-file work for one machine
  or one Celery worker) and then hands the loads that changed to Spark
  (:func:`tierwise.engine.spark_sync.sync_raw`). After a build the marts come back into the
  ledger (:func:`tierwise.engine.spark_sync.fetch_marts`), so that publishing, the build state
  and the BI snapshot read them the same way on both engines.

Spark is reached at ``TIERWISE_SPARK_REMOTE`` (a cluster's Connect server, or the Airflow
connection ``tierwise_spark``), else at a local server Tierwise starts itself
(:mod:`tierwise.engine.spark_server`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from tierwise.engine.duckdb import attach, connect_file
from tierwise.engine.spark_server import LocalServer
from tierwise.settings import EngineName, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T = TypeVar("T")

log = logging.getLogger(__name__)

TIMING = "tierwise_timing"
"""The log record attribute that carries a step's timing (``{"step": ..., "seconds": ...}``):
what the Spark engine adds to a stage, for operators and for the benchmark to pick up."""


_SESSIONS: dict[str, SparkSession] = {}


def keep_standard_loggers() -> None:
    """Undo pyspark leaving its JSON logger class as the process's logger class.

    pyspark's ``PySparkLogger.getLogger`` swaps the logger class and back without a lock, and
    Spark Connect's threads call it (for errors' query context): two at once can leave
    ``PySparkLogger`` in place, so every logger made afterwards writes JSON to stderr with its
    own handler, past Tierwise's masking of personal data. Called after each use of Spark.
    """
    if logging.getLoggerClass() is not logging.Logger:
        logging.setLoggerClass(logging.Logger)


def session_for(url: str) -> SparkSession:
    """This process's Spark Connect session to ``url`` (one per server, made on first use)."""
    if url not in _SESSIONS:
        from pyspark.sql import SparkSession

        session = SparkSession.builder.remote(url).getOrCreate()
        # Ingest replaces a load's partitions of a raw table and no others, on any server.
        session.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        _SESSIONS[url] = session
    keep_standard_loggers()
    return _SESSIONS[url]


def close_sessions() -> None:
    """Close this process's sessions; before their server stops, or the client retries its
    goodbye to a server that is gone for minutes at interpreter exit."""
    while _SESSIONS:
        _SESSIONS.popitem()[1].stop()
    keep_standard_loggers()


@dataclass(frozen=True)
class SparkEngine:
    """Spark (Connect) for the data, a DuckDB ledger for the run's bookkeeping."""

    settings: Settings

    @property
    def name(self) -> EngineName:
        return EngineName.SPARK

    @property
    def server(self) -> LocalServer | None:
        """The local server, when no remote one is configured."""
        if self.settings.spark_remote:
            return None
        directory = self.settings.spark_dir or self.settings.warehouse.parent / "spark"
        return LocalServer(directory, self.settings.spark_port, self.settings.spark_master)

    @property
    def url(self) -> str:
        server = self.server
        return server.url if server else str(self.settings.spark_remote)

    @property
    def address(self) -> str:
        """The URL without its parameters (``/;token=...``): what logs and the run summary show."""
        return self.url.partition("/;")[0]

    @property
    def ledger(self) -> Path:
        return self.settings.warehouse

    @property
    def location(self) -> str:
        where = f"local Spark {self.settings.spark_master}" if self.server else "Spark"
        return f"{where} at {self.address} (ledger {self.ledger})"

    def exists(self) -> bool:
        return self.ledger.exists()

    def connect(self, *, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The ledger, with the raw layer as loaded and the marts as last fetched from Spark."""
        return connect_file(self.ledger, self.settings, read_only=read_only)

    def session(self) -> SparkSession:
        """A Spark Connect session, starting the local server first when there is one."""
        server = self.server
        if server is not None:
            server.start()
        return session_for(self.url)

    def exclusive(self, work: Callable[[], T]) -> T:
        """dbt on Spark takes no lock on the ledger; the server must be up before it connects."""
        self.session()
        return work()

    def busy(self, message: str) -> bool:
        return False

    def dbt_env(self) -> Mapping[str, str]:
        return {
            "TIERWISE_DBT_TARGET": "spark",
            # dbt-spark's session method connects to Spark Connect when SPARK_REMOTE is set.
            "SPARK_REMOTE": self.url,
            # Only a name for dbt's connection (it shows in dbt's logs): no token.
            "TIERWISE_SPARK_HOST": self.address,
            "TIERWISE_DBT_THREADS": str(self.settings.dbt_threads),
        }

    def dbt_launcher(self) -> str:
        return "from tierwise.engine.spark_dbt import main; main()"

    def attach_to(self, con: duckdb.DuckDBPyConnection, alias: str) -> None:
        attach(con, self.ledger, alias, self.settings.warehouse_lock_timeout)

    def after_ingest(self, con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, Any]:
        from tierwise.engine.spark_sync import sync_raw

        started = time.perf_counter()
        report = sync_raw(con, self.session(), tables)
        _log_timing("spark_sync_raw", started, "raw sent to Spark")
        return report

    def after_build(self) -> dict[str, Any]:
        from tierwise.engine.spark_sync import fetch_marts

        started = time.perf_counter()
        with self.connect() as con:
            fetched = fetch_marts(con, self.session())
        _log_timing("spark_fetch_marts", started, "marts fetched into the ledger")
        return fetched


def _log_timing(step: str, started: float, what: str) -> None:
    seconds = round(time.perf_counter() - started, 3)
    log.info("spark: %s in %.1fs", what, seconds, extra={TIMING: {"step": step, "seconds": seconds}})
