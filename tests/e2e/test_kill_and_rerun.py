"""``kill -9`` inside every stage of ``tierwise run``, then run again: as if never killed (issue 16).

A run can die anywhere (the OOM killer, a lost node, ``kill -9``); running the same command again
must leave the warehouse, the published files, the destination databases and the BI snapshot
exactly as one uninterrupted run leaves them, and nothing else behind. Workspace A runs
``tierwise run`` once. Workspace B runs the same command as a chain of processes, each killed
with SIGKILL while one stage is running (the ingest of each source, the raw gate, dbt build,
the marts gate, the BI snapshot, publish twice), the last one left to finish. B must then equal
A table by table and file by file. Both read the same generated exports.

Which stage was running is read from the console: a stage prints its line when it ends, so a
kill landed inside stage N when stage N-1's line was printed and N's was not (a dead process
prints nothing more). Each kill comes a varied fraction of the stage's duration in A after
stage N-1's line, or after a file appears where that says more: the warehouse (the first
ingest), the SQLite database (publishing's database part). A kill that came too late is kept
in the record and its stage tried again, sooner. The database destination writes batches of 25
rows (``database.batch_size``, in A and B alike) so that a kill there lands between committed
batches. PostgreSQL gets the same through ``tierwise publish --destination database``, killed
after its first committed batch (one run publishes to either SQLite or PostgreSQL).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from subprocess import PIPE, STDOUT

import duckdb
import psycopg
import pytest
from tests.fakes.support import scratch_database
from tests.support import CONNECTION_VARS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AS_OF = "2025-12-31"
RUN = ("run", "--as-of", AS_OF, "--destination", "files", "--destination", "database")
PUBLISH_DATABASE = ("publish", "--as-of", AS_OF, "--destination", "database")
BATCH_SIZE = 25
# Load-time metadata: when and by which run a row arrived, not what it holds.
LOAD_METADATA = frozenset({"_loaded_at", "loaded_at", "run_id", "_run_id", "_synced_at"})
# What the operational log must agree on after a kill: the same files loaded with the same
# counts, the same tier-change revisions, every record delivered with the same content.
OPS_COLUMNS = {
    "load_manifest": (
        "source, entity, file_path, file_checksum, file_size, file_date, config_hash, rows_read, "
        "rows_loaded, rows_quarantined, quarantined_by_reason, new_columns, status, is_current"
    ),
    "sync_state": "destination, record_key, last_sent_hash, status",
    "sync_inflight": "destination, batch",
    "tier_change_revisions": (
        "change_key, customer_id, as_of_date, previous_as_of_date, from_tier_code, to_tier_code, "
        "change_type, reason, revision, retracted"
    ),
}
STAGE_TIMEOUT = 240.0


@dataclass(frozen=True)
class Stage:
    name: str
    ends_with: str
    """The start of the console line the stage prints when it ends."""


def _line(stage: str, text: str) -> str:
    return f"[{stage:<9}] {text}"  # as tierwise.console.progress prints it


STAGES = (
    Stage("ingest orders", _line("ingest", "orders:")),
    Stage("ingest contacts", _line("ingest", "contacts:")),
    Stage("ingest tickets", _line("ingest", "tickets:")),
    Stage("raw gate", _line("validate", "raw gate passed")),
    Stage("dbt build", _line("build", "dbt build")),
    Stage("marts gate", _line("validate", "marts gate passed")),
    Stage("BI snapshot", _line("snapshot", "read-only BI snapshot")),
    Stage("publish", _line("publish", "as of")),
)
STAGE_INDEX = {stage.name: index for index, stage in enumerate(STAGES)}


@dataclass(frozen=True)
class Target:
    """A kill aimed inside ``stage``, a fraction ``at`` of the way through its window in A."""

    stage: str
    at: float
    opens_with: str | None = None
    """A file of the workspace whose appearance opens the window; else the previous stage's line."""

    def opened(self, cli: Cli, root: Path) -> bool:
        index = STAGE_INDEX[self.stage]
        after_line = index == 0 or cli.printed(STAGES[index - 1].ends_with) is not None
        return after_line and (self.opens_with is None or (root / self.opens_with).exists())


# The fractions vary on purpose. Publishing is hit twice: early (gate check, revision log,
# files), and once the database file exists, between its batches.
TARGETS = (
    Target("ingest orders", 0.5, "warehouse/tierwise.duckdb"),  # only ingest creates it; B starts empty
    Target("ingest contacts", 0.3),
    Target("ingest tickets", 0.6),
    Target("raw gate", 0.4),
    Target("dbt build", 0.5),
    Target("marts gate", 0.35),
    Target("BI snapshot", 0.3),
    Target("publish", 0.1),
    Target("publish", 0.3, "publish/operational.sqlite"),
)


@dataclass(frozen=True)
class Workspace:
    """A Tierwise home of its own (warehouse, publish, logs); the exports are shared."""

    root: Path
    data: Path
    publish_config: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "tierwise.duckdb"

    @property
    def publish(self) -> Path:
        return self.root / "publish"

    def env(self, **extra: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in CONNECTION_VARS}
        env.update(
            TIERWISE_WAREHOUSE=str(self.warehouse),
            TIERWISE_DATA_DIR=str(self.data),
            TIERWISE_PUBLISH_DIR=str(self.publish),
            TIERWISE_LOG_DIR=str(self.root / "logs"),
            TIERWISE_PUBLISH_CONFIG=str(self.publish_config),
            **extra,
        )
        return env

    def files(self) -> list[str]:
        """Every file a run leaves in the warehouse and publish folders (not the logs)."""
        return sorted(
            str(path.relative_to(self.root))
            for folder in (self.root / "warehouse", self.publish)
            for path in folder.rglob("*")
            if path.is_file()
        )

    def state(self) -> str:
        """What the warehouse and the destinations hold, in a few numbers (read after a kill)."""
        counts = _warehouse_state(self.warehouse) if self.warehouse.exists() else {"warehouse": [("none",)]}
        sqlite = self.publish / "operational.sqlite"
        if sqlite.exists():
            counts["sqlite rows"] = [(name, len(rows)) for name, (_, rows) in sqlite_rows(sqlite).items()]
        folder = self.publish / "files"
        counts["published files"] = [(len(list(folder.iterdir())) if folder.exists() else 0,)]
        return "; ".join(f"{label} {_listed(rows)}" for label, rows in counts.items())


def _listed(rows: list[tuple[object, ...]]) -> str:
    return ", ".join(" ".join(map(str, row)) for row in rows) or "none"


# What a kill left in the operational log: per table, a label and what to count.
STATE = {
    "load_manifest": ("files loaded", "source, count(*)"),
    "build_state": ("builds", "count(*)"),
    "quality_results": ("gate runs", "gate, count(distinct run_id)"),
    "sync_state": (
        "records sent",
        "destination, count(*) filter (where status = 'sent')",
    ),
}


def _open_when_released(warehouse: Path, seconds: float = 30.0) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only once the killed run's dbt process is gone.

    The kernel kills the dbt process of a killed stage when its parent dies (the parent-death
    signal), a moment after ``kill -9`` returns; until then it still holds DuckDB's lock.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return duckdb.connect(str(warehouse), read_only=True)
        except duckdb.IOException as error:
            if "Could not set lock" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _warehouse_state(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    with _open_when_released(warehouse) as con:
        tables = con.execute("select table_name from duckdb_tables() where schema_name = 'ops'").fetchall()
        return {
            label: con.execute(f"select {what} from ops.{table} group by all order by all").fetchall()
            for table, (label, what) in STATE.items()
            if (table,) in tables
        }


@dataclass
class Cli:
    """One ``tierwise`` process; its console lines are collected as they come, with their times."""

    process: subprocess.Popen[str]
    lines: list[tuple[float, str]] = field(default_factory=list)
    reader: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @classmethod
    def start(cls, args: tuple[str, ...], env: dict[str, str]) -> Cli:
        command = [sys.executable, "-m", "tierwise.cli", *args]
        return cls(subprocess.Popen(command, env=env, stdout=PIPE, stderr=STDOUT, text=True))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def printed(self, start: str) -> float | None:
        """When the first line starting with ``start`` came, or None."""
        return next((at for at, line in list(self.lines) if line.startswith(start)), None)

    def wait_until(self, condition: Callable[[], bool], timeout: float = STAGE_TIMEOUT) -> bool:
        """Poll ``condition`` every 5 ms; False when the process ended first or time ran out."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                return condition()
            time.sleep(0.005)
        return True

    def kill(self) -> int:
        """SIGKILL, as ``kill -9``: no handler, no cleanup, no flush."""
        os.kill(self.process.pid, signal.SIGKILL)
        return self.finish()

    def finish(self, timeout: float = STAGE_TIMEOUT) -> int:
        code = self.process.wait(timeout)
        self.reader.join(30)
        return code

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    @property
    def last_progress(self) -> str:
        return next((line for _, line in reversed(self.lines) if line.startswith("[")), "(none yet)")


def running_stage(cli: Cli) -> str:
    """The first stage that has not printed its line: the one running when the process died."""
    return next((stage.name for stage in STAGES if cli.printed(stage.ends_with) is None), "none (finished)")


@dataclass(frozen=True)
class Kill:
    """Where one SIGKILL landed and what it left behind."""

    target: str
    landed: str
    seconds_in: float
    exit_code: int
    last_line: str
    state: str
    files_left: list[str]

    def describe(self) -> str:
        return (
            f"{self.target:<20} landed in {self.landed:<16} {self.seconds_in:5.2f}s in, "
            f"exit {self.exit_code}; left: {self.state}; after: {self.last_line[:70]}"
        )


def run_through(workspace: Workspace) -> list[float]:
    """``tierwise run`` to the end; returns the duration of each target's window."""
    cli = Cli.start(RUN, workspace.env())
    appeared: dict[str, float] = {}
    files = {target.opens_with for target in TARGETS if target.opens_with}
    while cli.process.poll() is None:
        for name in files - set(appeared):
            if (workspace.root / name).exists():
                appeared[name] = time.monotonic()
        time.sleep(0.005)
    assert cli.finish() == 0, cli.text
    windows = []
    for target in TARGETS:
        index = STAGE_INDEX[target.stage]
        opens = [appeared[target.opens_with]] if target.opens_with else []
        opens += [cli.printed(STAGES[index - 1].ends_with) or 0.0] if index else []
        windows.append((cli.printed(STAGES[index].ends_with) or 0.0) - max(opens))
    return windows


def kill_during(workspace: Workspace, target: Target, delay: float) -> Kill:
    """Start the run, SIGKILL it ``delay`` seconds into the target's window, report where it landed."""
    cli = Cli.start(RUN, workspace.env())
    assert cli.wait_until(lambda: target.opened(cli, workspace.root)), f"ended before {target}:\n{cli.text}"
    time.sleep(delay)
    code = cli.kill()
    assert "FAILED" not in cli.text and "is locked by" not in cli.text, cli.text
    return Kill(
        target=target.stage,
        landed=running_stage(cli),
        seconds_in=round(delay, 3),
        exit_code=code,
        last_line=cli.last_progress,
        state=workspace.state(),
        files_left=workspace.files(),
    )


def kill_chain(workspace: Workspace, windows: list[float]) -> list[Kill]:
    """One kill inside each target in turn, each on a fresh start of the same command.

    A kill that came after its stage had ended (the machine was faster than in A) is kept in
    the record, and the target is tried again with a third of the delay.
    """
    kills = []
    for target, window in zip(TARGETS, windows, strict=True):
        delay = target.at * window
        for _attempt in range(3):
            kills.append(kill_during(workspace, target, delay))
            if kills[-1].landed == target.stage:
                break
            delay /= 3
    return kills


@dataclass(frozen=True)
class Runs:
    a: Workspace
    b: Workspace
    kills: list[Kill]
    final: Cli
    seconds: dict[str, float]

    def record(self) -> str:
        return "\n".join(kill.describe() for kill in self.kills)


def _workspaces(root: Path) -> tuple[Workspace, Workspace]:
    from tierwise_dev.generate import generate

    generate(root / "data", customers=300, orders=3_000, seed=5, dirty=0.01)
    config = root / "publish.yml"
    config.write_text(json.dumps({"database": {"batch_size": BATCH_SIZE}}), encoding="utf-8")
    return Workspace(root / "a", root / "data", config), Workspace(root / "b", root / "data", config)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    started = time.monotonic()
    a, b = _workspaces(tmp_path_factory.mktemp("kill9"))
    windows = run_through(a)
    seconds = {"uninterrupted run": time.monotonic() - started}
    kills = kill_chain(b, windows)
    final = Cli.start(RUN, b.env())
    assert final.finish() == 0 and "FAILED" not in final.text, final.text
    seconds["kills and final run"] = time.monotonic() - started - seconds["uninterrupted run"]
    result = Runs(a, b, kills, final, {name: round(value, 1) for name, value in seconds.items()})
    print(f"\nkill -9 in every stage ({result.seconds}); windows in A {[round(w, 2) for w in windows]}")
    print(result.record())
    (b.root / "kills.json").write_text(json.dumps([asdict(kill) for kill in kills], indent=1), "utf-8")
    return result


# --- comparing two workspaces ----------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"select * from {relation} limit 0").description]


def _differences(con: duckdb.DuckDBPyConnection, left: str, right: str, columns: str) -> str | None:
    """None when both relations hold the same rows (as multisets) in ``columns``, else how not."""
    counts = con.execute(
        f"select (select count(*) from {left}), (select count(*) from {right}), "
        f"(select count(*) from (select {columns} from {left} except all select {columns} from {right})), "
        f"(select count(*) from (select {columns} from {right} except all select {columns} from {left}))"
    ).fetchone()
    assert counts is not None
    rows_a, rows_b, only_a, only_b = counts
    if only_a == only_b == 0:
        return None
    return f"{rows_a} rows in A, {rows_b} in B: {only_a} only in A, {only_b} only in B"


@contextmanager
def _attached(a: Path, b: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        yield con


def _tables(con: duckdb.DuckDBPyConnection, database: str, schemas: tuple[str, ...]) -> set[str]:
    marks = ", ".join("?" for _ in schemas)
    rows = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        f"where database_name = ? and schema_name in ({marks})",
        [database, *schemas],
    ).fetchall()
    return {f"{_quoted(schema)}.{_quoted(table)}" for schema, table in rows}


def compare_tables(
    a: Path, b: Path, schemas: tuple[str, ...], ignore: frozenset[str] = LOAD_METADATA
) -> dict[str, str]:
    """Every table of ``schemas`` in A and B, all columns but ``ignore``: what differs."""
    problems = {}
    with _attached(a, b) as con:
        in_a, in_b = _tables(con, "a", schemas), _tables(con, "b", schemas)
        if in_a != in_b:
            problems["tables"] = f"only in A: {sorted(in_a - in_b)}; only in B: {sorted(in_b - in_a)}"
        for table in sorted(in_a & in_b):
            columns = _columns(con, f"a.{table}")
            if columns != _columns(con, f"b.{table}"):
                problems[table] = f"columns differ: {columns} / {_columns(con, f'b.{table}')}"
                continue
            kept = ", ".join(_quoted(column) for column in columns if column not in ignore)
            found = _differences(con, f"a.{table}", f"b.{table}", kept)
            if found:
                problems[table] = found
    return problems


Rows = dict[str, tuple[list[str], list[tuple[object, ...]]]]


def _without_metadata(columns: list[str], rows: list[tuple[object, ...]]) -> tuple[list[str], list[tuple]]:
    kept = [index for index, column in enumerate(columns) if column not in LOAD_METADATA]
    values = sorted((tuple(row[index] for index in kept) for row in rows), key=repr)
    return [columns[index] for index in kept], values


def sqlite_rows(path: Path) -> Rows:
    """Every table of a SQLite file: its columns and its rows, sorted, without sync metadata."""
    con = sqlite3.connect(path)
    try:
        names = [row[0] for row in con.execute("select name from sqlite_master where type = 'table'")]
        tables = {}
        for name in sorted(names):
            cursor = con.execute(f"select * from {_quoted(name)}")
            tables[name] = _without_metadata([d[0] for d in cursor.description], cursor.fetchall())
        return tables
    finally:
        con.close()


def postgres_rows(url: str) -> Rows:
    """Every table of the public schema, as :func:`sqlite_rows`."""
    with psycopg.connect(url) as con:
        names = con.execute(
            "select table_name from information_schema.tables where table_schema = 'public'"
        ).fetchall()
        tables = {}
        for (name,) in sorted(names):
            cursor = con.execute(f"select * from public.{_quoted(name)}")
            tables[name] = _without_metadata([d.name for d in cursor.description or ()], cursor.fetchall())
        return tables


# --- the tests ---------------------------------------------------------------------------------


def test_a_kill_landed_inside_every_stage(runs: Runs) -> None:
    assert all(kill.exit_code == -signal.SIGKILL for kill in runs.kills), runs.record()
    landed = {kill.landed for kill in runs.kills}
    assert [stage.name for stage in STAGES if stage.name not in landed] == [], runs.record()


def test_the_last_run_loads_nothing_twice(runs: Runs) -> None:
    ingested = [line for _, line in runs.final.lines if line.startswith(_line("ingest", ""))]
    assert len(ingested) == 3 and all("(0 loaded, 731 skipped)" in line for line in ingested), ingested


def test_raw_and_quarantine_equal(runs: Runs) -> None:
    assert compare_tables(runs.a.warehouse, runs.b.warehouse, ("raw", "quarantine")) == {}


def test_marts_equal_in_every_column(runs: Runs) -> None:
    assert compare_tables(runs.a.warehouse, runs.b.warehouse, ("marts",), ignore=frozenset()) == {}


def test_seeds_staging_and_intermediate_equal(runs: Runs) -> None:
    assert compare_tables(runs.a.warehouse, runs.b.warehouse, ("staging", "intermediate")) == {}


@pytest.mark.parametrize("table", sorted(OPS_COLUMNS))
def test_operational_log_equal(runs: Runs, table: str) -> None:
    with _attached(runs.a.warehouse, runs.b.warehouse) as con:
        assert _differences(con, f"a.ops.{table}", f"b.ops.{table}", OPS_COLUMNS[table]) is None


def test_published_files_identical(runs: Runs) -> None:
    folder_a, folder_b = runs.a.publish / "files", runs.b.publish / "files"
    names = sorted(path.name for path in folder_a.iterdir())
    assert {name.rsplit(".", 1)[-1] for name in names} == {"csv", "parquet"}, names
    assert sorted(path.name for path in folder_b.iterdir()) == names
    assert [name for name in names if (folder_a / name).read_bytes() != (folder_b / name).read_bytes()] == []


def test_sqlite_destination_identical(runs: Runs) -> None:
    in_a = sqlite_rows(runs.a.publish / "operational.sqlite")
    assert set(in_a) == {"customer_tiers", "tier_change_events"} and all(rows for _, rows in in_a.values())
    assert sqlite_rows(runs.b.publish / "operational.sqlite") == in_a


def test_bi_snapshot_identical(runs: Runs) -> None:
    snapshot = Path("bi") / "marts.duckdb"
    tables = compare_tables(runs.a.publish / snapshot, runs.b.publish / snapshot, ("main",), frozenset())
    assert tables == {}


def test_nothing_left_behind(runs: Runs) -> None:
    """No lock, temporary file, half-written snapshot or WAL that an uninterrupted run does not leave."""
    assert runs.b.files() == runs.a.files()


def _committed(url: str) -> int:
    """Rows of customer_tiers PostgreSQL has committed (0 before the table exists)."""
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute("select to_regclass('public.customer_tiers') is not null").fetchone()
        if not row or not row[0]:
            return 0
        row = con.execute("select count(*) from public.customer_tiers").fetchone()
        return int(row[0]) if row else 0


def kill_postgres_publish(workspace: Workspace, url: str) -> Kill:
    """``tierwise publish`` to PostgreSQL, killed as soon as its first batch is committed; run again."""
    env = workspace.env(AIRFLOW_CONN_TIERWISE_POSTGRES=url)
    cli = Cli.start(PUBLISH_DATABASE, env)
    assert cli.wait_until(lambda: _committed(url) > 0), cli.text
    code = cli.kill()
    landed = "publish" if cli.printed(STAGES[-1].ends_with) is None else "none (finished)"
    state = f"PostgreSQL customer_tiers {_committed(url)} rows; {workspace.state()}"
    kill = Kill("publish (PostgreSQL)", landed, 0.0, code, cli.last_progress, state, workspace.files())
    rerun = Cli.start(PUBLISH_DATABASE, env)
    assert rerun.finish() == 0, rerun.text
    return kill


@pytest.fixture(scope="module")
def postgres(runs: Runs) -> Iterator[tuple[str, str, Kill]]:
    """A and B publish to a scratch database each; B's publish is killed after its first batch.

    Requested by the module's last test only: it adds PostgreSQL's streams to both sync states.
    """
    with scratch_database() as url_a, scratch_database() as url_b:
        cli = Cli.start(PUBLISH_DATABASE, runs.a.env(AIRFLOW_CONN_TIERWISE_POSTGRES=url_a))
        assert cli.finish() == 0, cli.text
        kill = kill_postgres_publish(runs.b, url_b)
        print(f"\n{kill.describe()}")
        yield url_a, url_b, kill


def test_postgres_destination_identical_after_a_kill_in_publish(
    runs: Runs, postgres: tuple[str, str, Kill]
) -> None:
    url_a, url_b, kill = postgres
    assert kill.exit_code == -signal.SIGKILL and kill.landed == "publish", kill
    in_a = postgres_rows(url_a)
    assert set(in_a) == {"customer_tiers", "tier_change_events"} and all(rows for _, rows in in_a.values())
    assert postgres_rows(url_b) == in_a
    # Each workspace's own scratch database is in its streams' names: compared without it.
    synced = (
        "(select split_part(destination, '@', 1) as stream, record_key, last_sent_hash, status "
        "from {}.ops.sync_state where destination like 'database.%@postgres%')"
    )
    with _attached(runs.a.warehouse, runs.b.warehouse) as con:
        records = sum(len(rows) for _, rows in in_a.values())
        assert con.execute(f"select count(*) from {synced.format('a')}").fetchone() == (records,)
        assert _differences(con, synced.format("a"), synced.format("b"), "*") is None
