"""`tierwise airflow` (`make airflow`): the UI shows the DAGs and the plugin's links; Ctrl-C stops it all.

The command runs as a user starts it, on free local ports and a throw-away Airflow home; the DAG
list is read through the REST API and rendered by headless Chromium; after Ctrl-C no process
of that Airflow home is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.browser import chromium_path, dump_dom

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
REPORT = "<!doctype html><title>Tierwise run</title><h1>as of 2025-12-31</h1>"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _defined_dag_ids() -> set[str]:
    """The dag_ids the files of dags/ define (one DAG per file)."""
    pattern = re.compile(r"dag_id=\"(\w+)\"")
    return {match for path in (REPO / "dags").glob("*.py") for match in pattern.findall(path.read_text())}


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _processes_of(airflow_home: Path) -> list[str]:
    """Command lines of the live processes whose environment has this AIRFLOW_HOME."""
    wanted = f"AIRFLOW_HOME={airflow_home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def _wait_healthy(url: str, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "tierwise airflow exited before the UI was up"
        try:
            health = _get_json(f"{url}/api/v2/monitor/health")
            if all(part.get("status") == "healthy" for part in health.values() if isinstance(part, dict)):
                return
        except OSError:
            pass
        time.sleep(2)
    raise TimeoutError(f"the UI at {url} was not healthy after {timeout:.0f}s")


def test_airflow_command_serves_the_dags_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    chromium_path()
    expected = _defined_dag_ids()
    assert len(expected) >= 5
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    airflow_home = tmp_path / "airflow"
    env = {
        **os.environ,
        "TIERWISE_AIRFLOW_HOME": str(airflow_home),
        "TIERWISE_LOG_DIR": str(tmp_path / "logs"),
        "TIERWISE_WAREHOUSE": str(tmp_path / "warehouse" / "tierwise.duckdb"),
        "TIERWISE_PUBLISH_DIR": str(tmp_path / "publish"),
        "TIERWISE_DATA_DIR": str(tmp_path / "data"),
        # The log servers of the scheduler and triggerer, away from a developer's running UI.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
    }
    command = [
        str(Path(sys.executable).parent / "tierwise"),
        "airflow",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    reports = tmp_path / "publish" / "reports"
    reports.mkdir(parents=True)
    (reports / "latest.html").write_text(REPORT, encoding="utf-8")
    # Started as a background job of a non-interactive shell is (a CI job): SIGINT ignored on
    # entry. Ctrl-C must stop it all the same.
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        _wait_healthy(url, process, timeout=360)
        # The dag-processor parses every file first; slow on a machine busy with other tests.
        deadline = time.monotonic() + 420
        listed: set[str] = set()
        while time.monotonic() < deadline and listed != expected:
            listed = {dag["dag_id"] for dag in _get_json(f"{url}/api/v2/dags?limit=100")["dags"]}
            time.sleep(2)
        errors = _get_json(f"{url}/api/v2/importErrors")
        assert listed == expected, (sorted(expected - listed), errors)

        # On a loaded machine the page may render before its API calls return: look again.
        for _ in range(4):
            page = dump_dom(f"{url}/dags", wait_ms=20000)
            missing = [dag_id for dag_id in sorted(expected) if dag_id not in page]
            if not missing:
                break
        assert missing == [], page[-3000:]

        # The plugin: its menu entries, and a report served by its app in the api-server.
        plugins = _get_json(f"{url}/api/v2/plugins")["plugins"]
        views = {view["name"]: view["href"] for plugin in plugins for view in plugin["external_views"]}
        assert views["Run report"] == "/tierwise/reports/latest.html"
        with urllib.request.urlopen(f"{url}{views['Run report']}", timeout=10) as response:
            assert response.read().decode() == REPORT
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    assert f"open {url}" in output
    assert "every visitor is an admin" in output
    assert _processes_of(airflow_home) == []
    config = (airflow_home / "airflow.cfg").read_text()
    assert f"dags_folder = {REPO / 'dags'}" in config
    assert "load_examples = False" in config
