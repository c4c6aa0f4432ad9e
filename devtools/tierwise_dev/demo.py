"""``tierwise-dev demo``: sample exports, then the main DAG run by Airflow itself."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from tierwise.airflow_local import airflow_command, airflow_env, setup_airflow
from tierwise.console import progress
from tierwise.context import workspace

DAG_ID = "tierwise_pipeline"
SAMPLE_END = date(2025, 12, 31)


def ensure_sample(customers: int, orders: int, seed: int, dirty: float) -> Path:
    """Generate the sample exports unless the same sample is already there."""
    from tierwise_dev.generate import generate

    out = workspace().data_dir
    wanted = {"customers": customers, "orders": orders, "seed": seed, "dirty": dirty}
    manifest = out / "manifest.json"
    if manifest.exists():
        params = json.loads(manifest.read_text(encoding="utf-8")).get("parameters", {})
        if all(params.get(key) == value for key, value in wanted.items()):
            progress("generate", f"sample already in {out} (seed {seed}), reusing it")
            return out
    started = time.perf_counter()
    generate(out, customers=customers, orders=orders, seed=seed, dirty=dirty, end=SAMPLE_END, progress=True)
    progress(
        "generate",
        f"{customers:,} customers, {orders:,} orders -> {out} in {time.perf_counter() - started:.1f}s",
    )
    return out


def _follow(path: Path, stop: threading.Event) -> None:
    """Echo the progress lines the tasks append, while Airflow's own output goes to a file."""
    position = 0
    while not stop.is_set() or path.stat().st_size > position:
        with path.open("r", encoding="utf-8") as handle:
            handle.seek(position)
            for line in handle:
                print(line.rstrip("\n"), flush=True)
            position = handle.tell()
        if not stop.is_set():
            time.sleep(0.2)


def run_dag(logical_date: datetime, log_file: Path) -> bool:
    """``airflow dags test`` the main DAG; True when the run wrote its summary."""
    settings = workspace()
    progress_file = settings.log_dir / "progress.log"
    progress_file.write_text("", encoding="utf-8")
    started_at = time.time()
    env = airflow_env({"TIERWISE_PROGRESS_FILE": str(progress_file), "TIERWISE_TASK_RETRIES": "0"})
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(progress_file, stop), daemon=True)
    follower.start()
    with log_file.open("a", encoding="utf-8") as handle:
        completed = subprocess.run(
            airflow_command("dags", "test", DAG_ID, logical_date.isoformat()),
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    stop.set()
    follower.join()
    summary = settings.log_dir / "last_run_summary.txt"
    wrote_summary = summary.exists() and summary.stat().st_mtime >= started_at
    return completed.returncode == 0 and wrote_summary


def run_demo(customers: int, orders: int, seed: int, dirty: float) -> int:
    settings = workspace()
    started = time.perf_counter()
    log_file = settings.log_dir / "airflow" / "demo.log"
    ensure_sample(customers, orders, seed, dirty)
    progress("airflow", f"setting up Airflow (SQLite metadata) in .airflow; its output goes to {log_file}")
    setup_airflow(log_file)
    review_day = SAMPLE_END + timedelta(days=5)
    logical_date = datetime(review_day.year, review_day.month, review_day.day, 6, 0)
    progress(
        "airflow", f"airflow dags test {DAG_ID} {logical_date:%Y-%m-%dT%H:%M} (evaluation as of {SAMPLE_END})"
    )
    ok = run_dag(logical_date, log_file)
    elapsed = time.perf_counter() - started
    if not ok:
        progress("airflow", f"the DAG run FAILED after {elapsed:.0f}s; see the lines above and {log_file}")
        return 1
    print()
    print((settings.log_dir / "last_run_summary.txt").read_text(encoding="utf-8"))
    progress("done", f"demo finished in {elapsed:.0f}s")
    return 0
