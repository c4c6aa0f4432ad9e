"""``run_bench``: every stage of Tierwise at several sizes, against the floor and pandas.

Per size (orders; customers = orders / 10), each in a process of its own:

1. generate the exports up to NEXT_DAY and hold NEXT_DAY's files back (reused when the same
   size was generated before; reported, not part of any total);
2. the pipeline stage by stage on a fresh warehouse: ingest, raw gate, dbt build, marts gate,
   publish to files and to PostgreSQL (skipped with a note when no server answers);
3. the floor (``floor.sql``) and the pandas baseline (``pandas_baseline.py``), each checked against the marts;
4. the whole DAG through Airflow (``airflow dags test``) on another fresh warehouse;
5. on the stage-by-stage warehouse: NEXT_DAY's exports arrive (ingest of that day + dbt build),
   then the next month-end evaluation (dbt build one month later).

With the engine ``spark`` (:func:`run_spark`), between 3 and 4: a fresh local Spark Connect server
(``local[2]``) of the size's own, its start-up measured as a stage, then the stages of 2 on Spark
on the same exports (publishing to PostgreSQL reads the ledger as on DuckDB and is not repeated),
Spark's marts checked against the floor, and the server stopped. A stage that fails is recorded
as failed and the bench goes on; the run is reported as failed at the end.

Quick mode (CI) keeps one quarter of history and skips Airflow and the incremental runs; it runs
DuckDB only unless asked for Spark.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tierwise.console import progress
from tierwise.context import workspace
from tierwise.engine.spark_server import LocalServer
from tierwise.exceptions import TierwiseError
from tierwise_dev.bench import metrics, postgres, report
from tierwise_dev.bench.compare import compare_with_marts
from tierwise_dev.bench.measure import Servers, run_measured, skipped
from tierwise_dev.bench.workspace import (
    LAST_DAY,
    NEXT_DAY,
    NEXT_MONTH_END,
    QUICK_START,
    SEED,
    START,
    Workspace,
    add_next_day,
    copy_projects,
    hold_back_next_day,
    remove_next_day,
)

DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (20_000,)
ENGINES = ("duckdb", "spark")
QUICK_ENGINES = ("duckdb",)
SPARK_MASTER = "local[2]"
NO_DUCKDB = "DuckDB not benchmarked (--engines)"
GATE_OVERRIDE = "bench: measuring publishing after a failed marts gate"
CUSTOMERS_PER_ORDER = 0.1
STAGE_MODULE = "tierwise_dev.bench.stage"
# One review run per size: distinct logical dates in the same Airflow home, all evaluating LAST_DAY.
FIRST_LOGICAL_DATE = datetime(2026, 1, 5, 6, 0)


@dataclass(frozen=True)
class Plan:
    quick: bool
    start: date
    timeout_s: float
    postgres_version: str | None
    engines: tuple[str, ...] = ENGINES


@dataclass(frozen=True)
class EngineRun:
    """Which engine a size's stages run on: its run folder, environment and servers."""

    name: str = "duckdb"
    run: str = "stages"
    env: dict[str, str] = field(default_factory=dict)
    servers: Servers | None = None

    @property
    def prefix(self) -> str:
        """Log files of the DuckDB stages keep their names; the others' carry the engine."""
        return "" if self.name == "duckdb" else f"{self.name}_"


class SizeRun:
    """The measured stages of one size on one engine."""

    def __init__(self, workspace: Workspace, plan: Plan, engine: EngineRun | None = None) -> None:
        self.ws = workspace
        self.plan = plan
        self.engine = engine or EngineRun()
        self.stages: dict[str, dict[str, Any]] = {}

    def command(
        self,
        key: str,
        command: list[str],
        *,
        run: str | None = None,
        db_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> bool:
        name = self.engine.prefix + key
        result_file = self.ws.logs / f"{name}.result.json"
        measured = run_measured(
            command,
            env=self.ws.stage_env(run or self.engine.run, db_url) | self.engine.env | (env or {}),
            log_file=self.ws.logs / f"{name}.log",
            result_file=result_file,
            timeout_s=self.plan.timeout_s,
            servers=self.engine.servers,
        )
        self.stages[key] = measured.to_json()
        state = "ok" if measured.ok else "FAILED"
        figures = f"{measured.wall_s:8.1f}s {measured.peak_mb:8,.0f} MB  {state}"
        label = f"{self.ws.orders:>10,} orders" if self.ws.orders else f"{'setup':>17}"
        progress("bench", f"{label}  {self.engine.name:<6} {key:<16} {figures}")
        return measured.ok

    def stage(
        self,
        key: str,
        *args: str,
        run: str | None = None,
        db_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> bool:
        result = str(self.ws.logs / f"{self.engine.prefix}{key}.result.json")
        command = [sys.executable, "-m", STAGE_MODULE, *args, "--run-id", f"bench_{key}", "--result", result]
        return self.command(key, command, run=run, db_url=db_url, env=env)

    def skip(self, key: str, note: str) -> None:
        self.stages[key] = skipped(note)


# --- exports -----------------------------------------------------------------------------------


def _generation_wanted(ws: Workspace, plan: Plan) -> dict[str, Any]:
    return {
        "customers": customers_for(ws.orders),
        "orders": ws.orders,
        "seed": SEED,
        "dirty": 0.0,
        "start": plan.start.isoformat(),
        "end": NEXT_DAY.isoformat(),
    }


def _reusable(ws: Workspace, plan: Plan) -> dict[str, Any] | None:
    """The earlier generation's measurement when the same exports are already there."""
    manifest, record = ws.data_dir / "manifest.json", ws.size_root / "generation.json"
    if not (manifest.exists() and record.exists() and (ws.next_day_dir / "orders").is_dir()):
        return None
    parameters = json.loads(manifest.read_text(encoding="utf-8")).get("parameters", {})
    if parameters != _generation_wanted(ws, plan):
        return None
    earlier: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    return earlier


def customers_for(orders: int) -> int:
    return max(1, round(orders * CUSTOMERS_PER_ORDER))


def prepare_exports(size: SizeRun) -> None:
    ws, plan = size.ws, size.plan
    earlier = _reusable(ws, plan)
    if earlier is not None:
        remove_next_day(ws)
        size.stages["generate"] = earlier | {"reused": True}
        progress("bench", f"{ws.orders:>10,} orders  reusing the exports in {ws.data_dir}")
        return
    shutil.rmtree(ws.data_dir, ignore_errors=True)
    shutil.rmtree(ws.next_day_dir, ignore_errors=True)
    wanted = _generation_wanted(ws, plan)
    ok = size.stage(
        "generate",
        "generate",
        *("--out", str(ws.data_dir), "--customers", str(wanted["customers"]), "--orders", str(ws.orders)),
        *("--seed", str(SEED), "--start", wanted["start"], "--end", wanted["end"]),
    )
    if not ok:
        raise TierwiseError(f"bench: generating {ws.orders:,} orders failed, see {ws.logs / 'generate.log'}")
    hold_back_next_day(ws)
    (ws.size_root / "generation.json").write_text(json.dumps(size.stages["generate"]), encoding="utf-8")


# --- the pipeline, stage by stage ---------------------------------------------------------------


def _database_name(run: str) -> str:
    return f"tierwise_bench_{os.getpid()}_{run}"


def run_results_copy(ws: Workspace, engine: EngineRun) -> Path:
    """Where the full build's ``run_results.json`` is kept (the next builds overwrite dbt's)."""
    return ws.outputs / f"{engine.prefix}run_results.json"


def run_pipeline_stages(size: SizeRun) -> None:
    as_of = LAST_DAY.isoformat()
    size.stage("ingest", "ingest")
    size.stage("validate_raw", "validate", "--gate", "raw", "--as-of", as_of)
    run_results = size.ws.dbt_project_dir / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)
    size.stage("build", "build", "--as-of", as_of)
    if run_results.exists():
        shutil.copy2(run_results, run_results_copy(size.ws, size.engine))
    gate_passed = size.stage("validate_marts", "validate", "--gate", "marts", "--as-of", as_of)
    # A failed gate is recorded as failed; publishing is still measured, with the gate overridden.
    override = () if gate_passed else ("--override-gate", GATE_OVERRIDE)
    size.stage("publish_files", "publish", "--destination", "files", "--as-of", as_of, *override)
    if not gate_passed:
        entry = size.stages["publish_files"]
        entry["gate_overridden"] = True
        entry["note"] = "; ".join(
            filter(None, [f"the marts gate overridden ({GATE_OVERRIDE})", entry["note"]])
        )
    if size.engine.name != "duckdb":
        size.skip("publish_postgres", "not repeated: it reads the ledger's copy of the marts, as on DuckDB")
        return
    if size.plan.postgres_version is None:
        size.skip("publish_postgres", f"no PostgreSQL server answers at {postgres.admin_url()}")
        return
    name = _database_name("stages")
    url = postgres.recreate_database(name)
    try:
        size.stage("publish_postgres", "publish", "--destination", "database", "--as-of", as_of, db_url=url)
    finally:
        postgres.drop_database(name)


# --- floor and pandas ---------------------------------------------------------------------------


def _checked(warehouse: Path, output: Path) -> dict[str, Any]:
    import duckdb

    if not output.exists():
        return {"passed": False, "error": f"{output.name} was not written"}
    try:
        return compare_with_marts(warehouse, output)
    except duckdb.Error as error:
        return {"passed": False, "error": str(error).splitlines()[0]}


def floor_output(ws: Workspace) -> Path:
    return ws.outputs / "floor.parquet"


def run_baselines(size: SizeRun) -> dict[str, Any]:
    """The floor (always: every engine's marts are checked against it) and, with DuckDB, pandas;
    both checked against DuckDB's marts."""
    ws = size.ws
    floor_out, pandas_out = floor_output(ws), ws.outputs / "pandas.parquet"
    for stale in (floor_out, pandas_out):
        stale.unlink(missing_ok=True)
    as_of = LAST_DAY.isoformat()
    size.stage("floor", "floor", "--data-dir", str(ws.data_dir), "--as-of", as_of, "--out", str(floor_out))
    if "duckdb" not in size.plan.engines:
        size.skip("pandas", NO_DUCKDB)
        return {}
    script = Path(__file__).with_name("pandas_baseline.py")
    project = str(ws.dbt_project_dir)
    arguments = [
        "--data-dir",
        str(ws.data_dir),
        "--project-dir",
        project,
        "--as-of",
        as_of,
        "--out",
        str(pandas_out),
    ]
    size.command("pandas", [sys.executable, str(script), *arguments])
    warehouse = ws.warehouse("stages")
    return {"floor": _checked(warehouse, floor_out), "pandas": _checked(warehouse, pandas_out)}


# --- Spark ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_pids(server: LocalServer) -> Iterable[int]:
    pid = server.pid()
    return [pid] if pid else []


def _leave_no_server(server: LocalServer) -> None:
    """Stop the server's JVM if the stop stage could not (it was started by this bench)."""
    if server.pid() is not None:
        server.stop()
    pid = server.pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)


def run_spark(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The pipeline's stages on Spark: a fresh local server of this size's own (its JVM's memory
    sampled with every stage's), the exports DuckDB read, the floor's check; then the server stops."""
    ws.fresh_run("spark")
    server = LocalServer(ws.spark_dir("spark"), free_port(), SPARK_MASTER)
    env = {
        "TIERWISE_ENGINE": "spark",
        "TIERWISE_SPARK_MASTER": server.master,
        "TIERWISE_SPARK_PORT": str(server.port),
        "TIERWISE_SPARK_DIR": str(server.directory),
    }
    size = SizeRun(ws, plan, EngineRun("spark", "spark", env, servers=lambda: _server_pids(server)))
    try:
        if size.stage("server_start", "spark-server", "--action", "start"):
            run_pipeline_stages(size)
        else:
            for key in metrics.PIPELINE_STAGES:
                size.skip(key, "the Spark server did not start")
    finally:
        size.stage("server_stop", "spark-server", "--action", "stop")
        _leave_no_server(server)
    size.stages["pipeline_total"] = metrics.pipeline_total(size.stages)
    return {
        "master": server.master,
        "driver_memory": server.driver_memory,
        "stages": size.stages,
        "dbt": report.dbt_timings(run_results_copy(ws, size.engine)),
    }


# --- Airflow and the incremental runs -----------------------------------------------------------


def _not_run(plan: Plan) -> str | None:
    """Why the DuckDB-only extras (Airflow, the incremental runs) do not run, or None."""
    if plan.quick:
        return "quick mode"
    return None if "duckdb" in plan.engines else NO_DUCKDB


def run_airflow(size: SizeRun, index: int) -> None:
    reason = _not_run(size.plan)
    if reason:
        size.skip("airflow_e2e", reason)
        return
    ws = size.ws
    ws.fresh_run("airflow")
    logical_date = FIRST_LOGICAL_DATE + timedelta(hours=index)
    args = ["airflow", "--logical-date", logical_date.isoformat()]
    args += ["--log-file", str(ws.run_dir("airflow") / "logs" / "airflow.log")]
    if size.plan.postgres_version is None:
        size.stage("airflow_e2e", *args, run="airflow")
        return
    name = _database_name("airflow")
    try:
        size.stage("airflow_e2e", *args, run="airflow", db_url=postgres.recreate_database(name))
    finally:
        postgres.drop_database(name)


def run_incremental(size: SizeRun) -> None:
    reason = _not_run(size.plan)
    if reason:
        for key in ("daily_ingest", "daily_build", "daily_build_forced", "monthly_build"):
            size.skip(key, reason)
        return
    add_next_day(size.ws)
    try:
        day_after = (NEXT_DAY + timedelta(days=1)).isoformat()
        size.stage(
            "daily_ingest", "ingest", "--interval-start", NEXT_DAY.isoformat(), "--interval-end", day_after
        )
        # The day after a month end leaves that evaluation's inputs as they were, so the build
        # is skipped (tierwise.build_state); the forced build shows what a rebuild would cost.
        size.stage("daily_build", "build", "--as-of", LAST_DAY.isoformat())
        forced = {"TIERWISE_BUILD_SKIP_UNCHANGED": "0"}
        size.stage("daily_build_forced", "build", "--as-of", LAST_DAY.isoformat(), env=forced)
        size.stage("monthly_build", "build", "--as-of", NEXT_MONTH_END.isoformat())
    finally:
        remove_next_day(size.ws)


# --- one size, all sizes ------------------------------------------------------------------------


def bench_size(ws: Workspace, plan: Plan, index: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    ws.fresh_run("stages")
    ws.outputs.mkdir(parents=True, exist_ok=True)
    ws.logs.mkdir(parents=True, exist_ok=True)
    size = SizeRun(ws, plan)
    prepare_exports(size)
    if "duckdb" in plan.engines:
        run_pipeline_stages(size)
    else:
        for key in metrics.PIPELINE_STAGES:
            size.skip(key, NO_DUCKDB)
    checks = run_baselines(size)
    # Spark right after DuckDB's stages, so that the two engines meet the machine in a like state.
    spark = run_spark(ws, plan) if "spark" in plan.engines else None
    if spark is not None:
        checks["spark"] = _checked(ws.warehouse("spark"), floor_output(ws))
    run_airflow(size, index)
    run_incremental(size)
    metrics.add_totals(size.stages)
    dbt = report.dbt_timings(run_results_copy(ws, size.engine))
    found: dict[str, Any] = {
        "orders": ws.orders,
        "customers": customers_for(ws.orders),
        "stages": size.stages,
        "checks": checks,
        "ratios": metrics.ratios(size.stages),
        "dbt": dbt,
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }
    if spark is not None:
        spark["over_duckdb"] = metrics.engine_ratios(size.stages, dbt, spark["stages"], spark["dbt"])
        found["spark"] = spark
    return found


def _setup_airflow(root: Path, plan: Plan) -> dict[str, Any]:
    """A fresh Airflow home for this run (its metadata database migrated, the writer pool made)."""
    reason = _not_run(plan)
    if reason:
        return skipped(reason)
    ws = Workspace(root, 0)
    shutil.rmtree(ws.airflow_home, ignore_errors=True)
    ws.logs.mkdir(parents=True, exist_ok=True)
    size = SizeRun(ws, plan)
    size.stage("airflow_setup", "airflow-setup", "--log-file", str(ws.logs / "airflow-setup.airflow.log"))
    return size.stages["airflow_setup"]


def _failures(results: dict[str, Any]) -> list[str]:
    found = []
    for size in results["sizes"]:
        orders = f"{size['orders']:,} orders"
        found += [f"{orders}: {key}" for key, entry in size["stages"].items() if not entry.get("ok")]
        spark = size.get("spark", {}).get("stages", {})
        found += [f"{orders}: Spark {key}" for key, entry in spark.items() if not entry.get("ok")]
        found += [f"{orders}: {name} check" for name, check in size["checks"].items() if not check["passed"]]
    return found


def _settings(plan: Plan) -> dict[str, Any]:
    settings = workspace()
    return {
        "duckdb_threads": settings.duckdb_threads,
        "duckdb_memory_limit": settings.duckdb_memory_limit,
        "dbt_threads": int(os.environ.get("TIERWISE_DBT_THREADS", "2")),
        "customers_per_order": CUSTOMERS_PER_ORDER,
        "seed": SEED,
        "dirty": 0.0,
        "history_start": plan.start.isoformat(),
        "full_run_last_day": LAST_DAY.isoformat(),
        "as_of_date": LAST_DAY.isoformat(),
        "next_day": NEXT_DAY.isoformat(),
        "next_month_end": NEXT_MONTH_END.isoformat(),
        "stage_timeout_s": plan.timeout_s,
        "engines": list(plan.engines),
        "spark_master": SPARK_MASTER if "spark" in plan.engines else None,
        "postgres": plan.postgres_version and f"PostgreSQL {plan.postgres_version} at {postgres.admin_url()}",
    }


def run_bench(sizes: list[int], out_dir: Path, quick: bool, engines: Iterable[str] | None = None) -> Path:
    """Benchmark every stage at each size (orders) on each engine (default: DuckDB and Spark,
    DuckDB only in quick mode); returns the path of the JSON results.

    Raises TierwiseError, after writing the results, when a stage failed or a check differed.
    """
    started, began = datetime.now(UTC), time.perf_counter()
    out_dir = Path(out_dir).resolve()
    root = out_dir / "work"
    chosen = tuple(engines) if engines is not None else (QUICK_ENGINES if quick else ENGINES)
    unknown = sorted(set(chosen) - set(ENGINES))
    if unknown or not chosen:
        raise TierwiseError(f"bench: engines {unknown or 'none'}; choose from {', '.join(ENGINES)}")
    plan = Plan(
        quick=quick,
        start=QUICK_START if quick else START,
        timeout_s=float(os.environ.get("TIERWISE_BENCH_STAGE_TIMEOUT", "3600")),
        postgres_version=postgres.server_version(),
        engines=tuple(name for name in ENGINES if name in chosen),
    )
    copy_projects(Workspace(root, 0))
    results: dict[str, Any] = {
        "schema_version": 2,
        "started_at": started.isoformat(timespec="seconds"),
        "quick": quick,
        "versions": report.versions() | {"postgresql": plan.postgres_version or "not reachable"},
        "machine": report.machine(),
        "settings": _settings(plan),
        "airflow_setup": _setup_airflow(root, plan),
        "sizes": [],
    }
    for index, orders in enumerate(sizes):
        results["sizes"].append(bench_size(Workspace(root, orders), plan, index))
    results["scaling"] = metrics.scaling(results["sizes"])
    results["targets"] = metrics.targets(results["sizes"])
    results["elapsed_s"] = round(time.perf_counter() - began, 1)
    failures = _failures(results)
    results["ok"] = not failures
    path = report.write_results(results, out_dir, started.strftime("%Y%m%dT%H%M%SZ"))
    if failures:
        raise TierwiseError(f"bench: {'; '.join(failures)} (results in {path})")
    return path
