"""``tierwise-dev demo``: sample exports, then six month ends evaluated by Airflow's own scheduler.

Six evaluations, not one, so that tier history, upgrades, downgrades, grace and the migration
matrix show something. The runs go through the scheduler of the local Airflow (the services of
``tierwise airflow``), not ``airflow dags test``: so they appear in the UI afterwards with their
task logs in Airflow's log folder and a duration from when they started (``dags test`` stamps a
run's start with its logical date, which the UI showed as "335d").

The first month end runs ``tierwise_pipeline`` (it loads the exports), the months between run
the monthly review DAG (build, marts gate, publish, notifications: what production runs each
month), and the last month end the pipeline again, whose summary and report close the demo (its
ingestion skips the files already loaded). The review runs with ``TIERWISE_REVIEW_CRON=none``
and both DAGs are paused again at the end: unpaused on its cron, the review would have the
scheduler add its latest interval, a month beyond the sample.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from tierwise.airflow_local import LocalAirflow, airflow_command, airflow_env
from tierwise.console import progress
from tierwise.context import workspace
from tierwise.exceptions import TierwiseError

DAG_ID = "tierwise_pipeline"
REVIEW_DAG_ID = "tierwise_monthly_review"
SAMPLE_END = date(2025, 12, 31)
MONTHS = 6
REVIEW_DAY = 5  # the monthly review's day: the month end's run is on the 5th of the next month


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


def month_ends(last: date, count: int) -> list[date]:
    """The ``count`` month ends up to ``last`` (itself a month end), oldest first."""
    ends = [last]
    while len(ends) < count:
        ends.append(ends[-1].replace(day=1) - timedelta(days=1))
    return ends[::-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _api(local: LocalAirflow, method: str, path: str, body: object = None) -> tuple[int, dict[str, Any]]:
    """A call to the REST API of the local Airflow (no login: its all-admins mode)."""
    request = urllib.request.Request(
        f"{local.url}/api/v2{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, {"detail": error.read().decode(errors="replace")}


def _wait(what: str, check: Callable[[], Any], timeout: float, local: LocalAirflow) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dead := local.exited():
            raise TierwiseError(f"Airflow's {', '.join(dead)} stopped while waiting for {what}")
        if value := check():
            return value
        time.sleep(1)
    raise TierwiseError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_month(local: LocalAirflow, dag_id: str, as_of: date) -> dict[str, Any]:
    """Trigger ``dag_id`` for one month end (its logical date the review day) and wait for it."""
    review_day = as_of + timedelta(days=REVIEW_DAY)
    run_id = f"demo__{as_of.isoformat()}"
    path = f"/dags/{dag_id}/dagRuns"
    status, body = _api(
        local,
        "POST",
        path,
        {
            "dag_run_id": run_id,
            "logical_date": f"{review_day.isoformat()}T06:00:00Z",
            "conf": {"as_of_date": as_of.isoformat()},
        },
    )
    if status == 409:  # an earlier demo's run: run it again
        status, body = _api(local, "POST", f"{path}/{run_id}/clear", {"dry_run": False})
    if status not in (200, 201):
        raise TierwiseError(f"triggering {dag_id} for {as_of} failed ({status}): {body.get('detail')}")

    def finished() -> dict[str, Any] | None:
        _, run = _api(local, "GET", f"{path}/{run_id}")
        return run if run.get("state") in ("success", "failed") else None

    run: dict[str, Any] = _wait(f"the run as of {as_of}", finished, 1800, local)
    return run


def _triggered_only(local: LocalAirflow, dag_id: str) -> bool:
    status, dag = _api(local, "GET", f"/dags/{dag_id}")
    return status == 200 and "timetable_summary" in dag and dag["timetable_summary"] is None


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(customers: int, orders: int, seed: int, dirty: float) -> int:
    settings = workspace()
    started = time.perf_counter()
    ensure_sample(customers, orders, seed, dirty)
    progress_file = settings.log_dir / "progress.log"
    progress_file.parent.mkdir(parents=True, exist_ok=True)
    progress_file.write_text("", encoding="utf-8")
    local = LocalAirflow(
        port=_free_port(),
        extra_env={
            "TIERWISE_PROGRESS_FILE": str(progress_file),
            "TIERWISE_TASK_RETRIES": "0",
            # Away from the log servers of a UI the user may have open.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "TIERWISE_REVIEW_CRON": "none",
        },
    )
    progress(
        "airflow", f"starting Airflow's services (SQLite metadata in .airflow); output in {local.log_dir}"
    )
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(progress_file, stop), daemon=True)
    months = month_ends(SAMPLE_END, MONTHS)
    timings: list[tuple[date, str, float]] = []
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        local.start()
        local.wait_ready()
        for dag_id in (DAG_ID, REVIEW_DAG_ID):
            # Parsed without a schedule (the review with TIERWISE_REVIEW_CRON=none) before it is
            # unpaused: else the scheduler would add the cron's latest interval.
            _wait(f"{dag_id} parsed as triggered only", partial(_triggered_only, local, dag_id), 300, local)
            _api(local, "PATCH", f"/dags/{dag_id}", {"is_paused": False})
        progress(
            "airflow", f"ready after {time.perf_counter() - started:.0f}s; {len(months)} month ends to go"
        )
        follower.start()
        for as_of in months:
            dag_id = DAG_ID if as_of in (months[0], months[-1]) else REVIEW_DAG_ID
            progress("airflow", f"{dag_id} as of {as_of} (logical date {as_of + timedelta(days=REVIEW_DAY)})")
            month_started = time.perf_counter()
            run = run_month(local, dag_id, as_of)
            timings.append((as_of, f"{dag_id} {run['state']}", time.perf_counter() - month_started))
            if run["state"] != "success":
                break
    except KeyboardInterrupt:
        progress("airflow", "interrupted")
        return 1
    finally:
        stop.set()
        if follower.is_alive():
            follower.join()
        if local.processes and not local.exited():
            for dag_id in (DAG_ID, REVIEW_DAG_ID):
                _api(local, "PATCH", f"/dags/{dag_id}", {"is_paused": True})
        progress("airflow", "stopping Airflow's services")
        local.stop()
        signal.signal(signal.SIGTERM, previous)
    elapsed = time.perf_counter() - started
    for as_of, state, seconds in timings:
        progress("timing", f"as of {as_of}: {state} in {seconds:.0f}s")
    if len(timings) < len(months) or not timings[-1][1].endswith("success"):
        progress("airflow", f"the run FAILED after {elapsed:.0f}s; see the lines above and {local.log_dir}")
        return 1
    print()
    print((settings.log_dir / "last_run_summary.txt").read_text(encoding="utf-8"))
    progress(
        "done",
        f"demo finished in {elapsed:.0f}s ({len(timings)} month ends); see the runs and their task logs "
        "with `make airflow`",
    )
    return 0
