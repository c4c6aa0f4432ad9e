"""Another process holding the warehouse: every stage waits for it, then fails with a clear message.

DuckDB allows one writer or several readers per file. A real second process holds the
warehouse, with a write connection (a second run) or a read-only one (an analyst's notebook).
A stage started meanwhile must wait and succeed when the holder lets go within
``TIERWISE_WAREHOUSE_LOCK_TIMEOUT``, and otherwise fail with a message naming the warehouse,
the holding process and what to do: on the ``tierwise`` command line, without a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.support import isolate_tierwise, run_context

from tierwise.schema import ENTITIES
from tierwise.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

AS_OF = date(2025, 12, 31)
TIERWISE = Path(sys.executable).parent / "tierwise"
HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read_only")
print("held", flush=True)
time.sleep(float(sys.argv[3]))
con.close()
"""
STAGES = {
    "ingest": ["ingest", "--source", "orders"],
    "validate": ["validate", "--gate", "raw"],
    "build": ["build", "--as-of", AS_OF.isoformat()],
    "publish": ["publish", "--destination", "files", "--as-of", AS_OF.isoformat()],
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small warehouse that has been through every stage once."""
    from tierwise import pipeline
    from tierwise_dev.generate import generate

    root = tmp_path_factory.mktemp("locks")
    patch = isolate_tierwise(root)
    patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    # Every build really runs dbt: the lock is met by dbt-duckdb's open, not by a skip check.
    patch.setenv("TIERWISE_BUILD_SKIP_UNCHANGED", "0")
    generate(root / "data", customers=150, orders=1_500, seed=11, end=AS_OF, progress=False)
    ctx = pipeline.RunContext.create("locks_setup", as_of_date=AS_OF)
    for source in ENTITIES:
        pipeline.ingest(ctx, source)
    pipeline.validate(ctx, "raw")
    pipeline.build(ctx)
    pipeline.validate(ctx, "marts")
    yield root
    patch.undo()


@contextmanager
def held(mode: str, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """A second process holding the warehouse (``write`` or ``read_only``) for ``seconds``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(load_settings().warehouse), mode, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def _run_stage(stage: str) -> None:
    from tierwise import pipeline

    ctx = pipeline.RunContext.create(f"locks_{stage}", as_of_date=AS_OF)
    if stage == "ingest":
        pipeline.ingest(ctx, "orders")
    elif stage == "validate":
        pipeline.validate(ctx, "raw")
    elif stage == "build":
        pipeline.build(ctx)
    else:
        # The marts of this module are built by the build cases but never gated: the lock is what
        # is tested here, so the publish goes past the gate, as an operator could.
        override = pipeline.RunContext.create(ctx.run_id, as_of_date=AS_OF, gate_override="lock test")
        pipeline.publish(override, ["files"])


@pytest.mark.parametrize(
    ("mode", "stage"),
    [("write", "build"), ("read_only", "build"), ("write", "ingest"), ("read_only", "publish")],
)
def test_a_stage_waits_for_a_holder_that_lets_go(
    home: Path, monkeypatch: pytest.MonkeyPatch, mode: str, stage: str
) -> None:
    monkeypatch.setenv("TIERWISE_WAREHOUSE_LOCK_TIMEOUT", "120")
    started = time.monotonic()
    with held(mode, seconds=3) as holder:
        _run_stage(stage)
        assert holder.poll() is not None, "the stage ran while the other process still held the warehouse"
    assert time.monotonic() - started >= 3


def test_the_bi_snapshot_waits_for_a_writer_that_lets_go(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tierwise.snapshot import publish_snapshot

    monkeypatch.setenv("TIERWISE_WAREHOUSE_LOCK_TIMEOUT", "120")
    ctx = run_context("snapshot")
    with held("write", seconds=3) as holder:
        path, tables, _ = publish_snapshot(ctx.settings, ctx.engine)
        assert holder.poll() is not None
    assert tables >= 5
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from customer_tiers").fetchone()[0] > 0


def test_a_zero_timeout_fails_at_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tierwise.exceptions import WarehouseLockedError

    monkeypatch.setenv("TIERWISE_WAREHOUSE_LOCK_TIMEOUT", "0")
    with held("write", seconds=600) as holder:
        started = time.monotonic()
        failing = pytest.raises(WarehouseLockedError, match=f"locked by process {holder.pid} .* for the 0s")
        with failing, run_context("zero").engine.connect(read_only=True):
            pass
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("mode", ["write", "read_only"])
@pytest.mark.parametrize("stage", list(STAGES))
def test_the_cli_names_the_holder_when_it_does_not_let_go(home: Path, mode: str, stage: str) -> None:
    warehouse = load_settings().warehouse
    with held(mode, seconds=600) as holder:
        done = subprocess.run(
            [str(TIERWISE), *STAGES[stage]],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TIERWISE_WAREHOUSE_LOCK_TIMEOUT": "2"},
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert f"tierwise {stage}: the warehouse {warehouse} is locked by process {holder.pid} (" in done.stderr
    assert "stayed locked for the 2s a stage waits (TIERWISE_WAREHOUSE_LOCK_TIMEOUT)" in done.stderr
    assert "Close the connection that holds it" in done.stderr
    assert f"is locked by process {holder.pid}" in done.stdout, "no line said the stage was waiting"


def test_dbt_reports_its_own_lock_conflict_as_tierwise_understands_it(home: Path) -> None:
    """The second line of defence: dbt-duckdb's own failed open is recognised, holder included."""
    from tierwise.engine import WarehouseBusyError
    from tierwise.engine.duckdb import is_lock_conflict, lock_holder
    from tierwise.transform import _invoke, dbt_args, dbt_env

    ctx = run_context("dbt_lock")
    args = dbt_args(ctx.settings, "seed", select=["tier_ladder"])
    with held("read_only", seconds=600) as holder, pytest.raises(WarehouseBusyError) as busy:
        _invoke(args, dbt_env(ctx, AS_OF), ctx.settings.dbt_project_dir / "target", ctx.engine)
    assert is_lock_conflict(busy.value), busy.value
    assert lock_holder(busy.value).startswith(f"process {holder.pid} (")
