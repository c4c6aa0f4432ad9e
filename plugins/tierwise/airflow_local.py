"""A local Airflow bound to this repository: SQLite metadata in ``.airflow``, the repo's DAGs and plugins.

``tierwise airflow`` opens the UI on it, and the demo and the tests run the same services, so it
lives in the package (a runtime user has no dev tools). The services are Airflow's own processes
(api-server, scheduler, dag-processor, triggerer) with the LocalExecutor, as ``airflow
standalone`` runs them, but on the workspace's settings and each in its own process group so
that stopping them leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tierwise.context import workspace
from tierwise.exceptions import TierwiseError
from tierwise.orchestration import WRITER_POOL

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


def airflow_home() -> Path:
    settings = workspace()
    return Path(os.environ.get("TIERWISE_AIRFLOW_HOME", settings.home / ".airflow")).resolve()


def _bound_settings() -> dict[tuple[str, str], str]:
    """The settings that bind Airflow to this repository, by (section, key)."""
    settings = workspace()
    home = airflow_home()
    return {
        ("core", "dags_folder"): str(settings.home / "dags"),
        ("core", "plugins_folder"): str(settings.home / "plugins"),
        ("core", "load_examples"): "False",
        ("core", "dags_are_paused_at_creation"): "True",
        ("database", "sql_alchemy_conn"): f"sqlite:///{home / 'airflow.db'}",
        ("logging", "base_log_folder"): str(settings.log_dir / "airflow"),
    }


def airflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an Airflow subprocess bound to this repository."""
    settings = workspace()
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = str(airflow_home())
    env.update(
        {
            f"AIRFLOW__{section.upper()}__{key.upper()}": value
            for (section, key), value in _bound_settings().items()
        }
    )
    env.update(
        {
            "TIERWISE_HOME": str(settings.home),
            "TIERWISE_WAREHOUSE": str(settings.warehouse),
            "TIERWISE_DATA_DIR": str(settings.data_dir),
            "TIERWISE_PUBLISH_DIR": str(settings.publish_dir),
            "TIERWISE_LOG_DIR": str(settings.log_dir),
        }
    )
    env.update(extra or {})
    return env


def airflow_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "airflow"), *args]


def run_airflow(*args: str, log_file: Path, env: dict[str, str] | None = None) -> int:
    """Run an Airflow CLI command with its output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ airflow {' '.join(args)}\n")
        handle.flush()
        completed = subprocess.run(
            airflow_command(*args),
            env=env or airflow_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return completed.returncode


def set_config_values(text: str, values: Mapping[tuple[str, str], str]) -> str:
    """``airflow.cfg``'s text with each (section, key) set to its value, comments kept.

    A key's line (or its commented-out default) is replaced in its section; a missing key or
    section is added.
    """
    lines = text.splitlines()
    for (section, key), value in values.items():
        setting = f"{key} = {value}"
        try:
            start = lines.index(f"[{section}]")
        except ValueError:
            lines += ["", f"[{section}]", setting]
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        # The key's own line first; its commented-out default only where it has none.
        found = next(
            (
                i
                for pattern in (rf"^{re.escape(key)}\s*=", rf"^#\s*{re.escape(key)}\s*=")
                for i in range(start + 1, end)
                if re.match(pattern, lines[i])
            ),
            None,
        )
        if found is None:
            lines.insert(start + 1, setting)
        else:
            lines[found] = setting
    return "\n".join(lines) + "\n"


def bind_config(home: Path | None = None) -> Path:
    """Point ``airflow.cfg`` at this repository, so Airflow run by hand on it reads the same DAGs.

    Airflow writes the file on first use with ``dags_folder`` in its home and the example DAGs on;
    the environment of :func:`airflow_env` overrides both, a user's ``AIRFLOW_HOME=.airflow
    airflow ...`` does not.
    """
    path = (home or airflow_home()) / "airflow.cfg"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    updated = set_config_values(text, _bound_settings())
    if updated != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(updated, encoding="utf-8")
    return path


def setup_airflow(log_file: Path) -> None:
    """Migrate the metadata database, create the single-writer pool (once), bind the config."""
    import airflow

    home = airflow_home()
    marker = home / f".tierwise-setup-{airflow.__version__}"
    if not marker.exists():
        home.mkdir(parents=True, exist_ok=True)
        if run_airflow("db", "migrate", log_file=log_file) != 0:
            raise TierwiseError(f"airflow db migrate failed, see {log_file}")
        if (
            run_airflow("pools", "set", WRITER_POOL, "1", "DuckDB has a single writer", log_file=log_file)
            != 0
        ):
            raise TierwiseError(f"creating the {WRITER_POOL} pool failed, see {log_file}")
        marker.write_text("ok\n", encoding="utf-8")
    bind_config(home)


def _children() -> dict[int, list[int]]:
    """Parent pid -> its children's pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The field after the parenthesised command name (which may hold spaces) is the state,
            # then the parent pid.
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(pids: list[int]) -> set[int]:
    """Every live process below ``pids`` (not themselves)."""
    tree = _children()
    found: set[int] = set()
    todo = [child for pid in pids for child in tree.get(pid, [])]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(tree.get(pid, []))
    return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited: its parent, also being stopped, has not reaped it yet.
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class LocalAirflow:
    """Airflow's services on this repository, started by :meth:`start`, stopped by :meth:`stop`."""

    host: str = "127.0.0.1"
    port: int = 8080
    all_admins: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def log_dir(self) -> Path:
        return workspace().log_dir / "airflow"

    @property
    def passwords_file(self) -> Path:
        return airflow_home() / PASSWORDS_FILE

    def env(self) -> dict[str, str]:
        return airflow_env(
            {
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                # Two task processes at most: the machine of a local run is often a laptop, and
                # the warehouse's writers queue in their one-slot pool anyway.
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(self.all_admins),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API__HOST": self.host,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API__WORKERS": "1",
                **self.extra_env,
            }
        )

    def start(self) -> LocalAirflow:
        """Start the four services, their output in ``logs/airflow/<service>.log``."""
        setup_airflow(self.log_dir / "setup.log")
        env = self.env()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in SERVICES:
            with (self.log_dir / f"{service}.log").open("ab") as handle:
                # Its own session: a Ctrl-C in the terminal reaches only this process, which
                # then stops every service with its children (executor workers, API workers).
                self.processes[service] = subprocess.Popen(
                    airflow_command(service),
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        return self

    def health(self) -> dict[str, str]:
        """Each component's status from the api-server's health endpoint (empty when it is not up)."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                body = json.load(response)
        except (OSError, ValueError):
            return {}
        return {name: str(part.get("status")) for name, part in body.items() if isinstance(part, dict)}

    def exited(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def wait_ready(self, timeout: float = 300) -> None:
        """Wait until every component reports healthy; fails when a service exits or time is up."""
        wanted = {"metadatabase", "scheduler", "triggerer", "dag_processor"}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dead := self.exited():
                raise TierwiseError(f"Airflow's {', '.join(dead)} stopped; see {self.log_dir}")
            health = self.health()
            if wanted <= {name for name, status in health.items() if status == "healthy"}:
                return
            time.sleep(1)
        raise TierwiseError(f"Airflow was not healthy after {timeout:.0f}s; see {self.log_dir}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM every service and everything below it, SIGKILL what is left after ``timeout``.

        By process tree, not only process group: a task's supervisor starts its own session.
        """
        services = [process.pid for process in self.processes.values()]
        seen = set(services) | descendants(services)
        for pid in seen:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes.values():
                process.poll()
            # Processes started while stopping (a task's runner) are stopped too.
            for pid in descendants(services) - seen:
                seen.add(pid)
                _signal(pid, signal.SIGTERM)
            if not any(_alive(pid) for pid in seen):
                break
            time.sleep(0.2)
        for pid in seen | descendants(services):
            if _alive(pid):
                _signal(pid, signal.SIGKILL)
        for process in self.processes.values():
            process.wait()
        self.processes.clear()

    def login_hint(self) -> str:
        if self.all_admins:
            return "no login: every visitor is an admin (simple auth manager, local use only)"
        return f"log in as admin with the password in {self.passwords_file} (written on first start)"


def without_login(host: str, *, login: bool) -> bool:
    """Every visitor an admin (no login) only on the loopback and when no login was asked for."""
    return not login and host in LOOPBACK


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(host: str, port: int, *, login: bool) -> int:
    """Run the services in the foreground until Ctrl-C or SIGTERM; then stop them all."""
    from tierwise.console import progress

    local = LocalAirflow(host=host, port=port, all_admins=without_login(host, login=login))
    # SIGINT too, explicitly: a command started in the background by a non-interactive shell
    # (a CI job, `make airflow &`) inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt, so Ctrl-C or `kill -INT` would leave every service running.
    previous = {signum: signal.signal(signum, _stop_on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        progress(
            "airflow",
            f"starting the api-server, scheduler, dag-processor and triggerer; logs in {local.log_dir}",
        )
        started = time.perf_counter()
        local.start()
        local.wait_ready()
        progress("airflow", f"ready in {time.perf_counter() - started:.0f}s: open {local.url}")
        progress("airflow", local.login_hint())
        progress("airflow", "Ctrl-C stops every service")
        while not (dead := local.exited()):
            time.sleep(1)
        raise TierwiseError(f"Airflow's {', '.join(dead)} stopped; see {local.log_dir}")
    except KeyboardInterrupt:
        progress("airflow", "stopping")
        return 0
    finally:
        local.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
