"""The DuckDB engine: opens with the configured limits, gives dbt its target, waits for the lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from tests.support import engine_at

from tierwise.engine import WarehouseBusyError
from tierwise.engine.duckdb import LOCK_CONFLICT, is_lock_conflict, lock_holder
from tierwise.exceptions import WarehouseLockedError

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_connect_applies_the_memory_limit_and_threads(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "w" / "tierwise.duckdb", duckdb_memory_limit="1GB", duckdb_threads=1)
    assert not engine.exists()
    with engine.connect() as con:
        threads = con.execute("select current_setting('threads')").fetchone()
        limit = con.execute("select current_setting('memory_limit')").fetchone()
    assert engine.exists() and threads == (1,)
    assert limit is not None and limit[0].replace(" ", "") in {"1.0GiB", "953.6MiB", "1GB"}


def test_dbt_gets_the_target_from_the_settings(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "w.duckdb", duckdb_memory_limit="2GB", duckdb_threads=3, dbt_threads=4)
    assert dict(engine.dbt_env()) == {
        "TIERWISE_DBT_TARGET": "duckdb",
        "TIERWISE_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "TIERWISE_DBT_THREADS": "4",
        "TIERWISE_DUCKDB_MEMORY_LIMIT": "2GB",
        "TIERWISE_DUCKDB_THREADS": "3",
    }


def test_attach_to_reads_the_warehouse_from_another_connection(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "w.duckdb")
    with engine.connect() as con:
        con.execute("create schema marts; create table marts.t as select 42 as answer")
    with duckdb.connect() as local:
        engine.attach_to(local, "w")
        assert local.execute("select answer from w.marts.t").fetchone() == (42,)


def test_busy_and_lock_conflicts_are_recognised_with_their_holder() -> None:
    message = (
        f'IO Error: {LOCK_CONFLICT} "/x.duckdb": Conflicting lock is held in /usr/bin/python3 (PID 4242)'
    )
    assert engine_at(Path("/x.duckdb")).busy(message)
    assert is_lock_conflict(WarehouseBusyError(message)) and is_lock_conflict(duckdb.IOException(message))
    assert not is_lock_conflict(duckdb.IOException("IO Error: disk full"))
    assert lock_holder(message) == "process 4242 (/usr/bin/python3)"


def test_exclusive_waits_for_a_writer_then_gives_up_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "600"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        engine = engine_at(path, warehouse_lock_timeout=1.0)
        calls: list[float] = []
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError, match=rf"locked by process {holder.pid} .* for the 1s"):
            engine.exclusive(lambda: calls.append(time.monotonic()))
        assert calls == [] and 0.9 < time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    assert engine.exclusive(lambda: "ran") == "ran"
