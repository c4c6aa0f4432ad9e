"""A local Spark Connect server: Spark on this machine for every stage, dbt and GX at once.

Why a server and not a session in each process: Spark's embedded Derby metastore admits one
JVM at a time, and dbt runs in a process of its own; with one Connect server, dbt, the GX gates,
ingest and publishing are all clients of the same Spark (a few MB of gRPC client each, no JVM),
exactly as they are of a cluster's Connect server. The server ships in pyspark's wheel
(``sbin/start-connect-server.sh``) and needs Java 17. It outlives the command that started it,
so that the next stage or Airflow task does not pay the ~15 s JVM start again;
``tierwise spark stop`` stops it. Hand-written because pyspark offers no API to start the
server as a separate process, only its shell scripts, which this module drives.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tierwise.console import progress
from tierwise.exceptions import ConfigError

START_TIMEOUT = 120.0
CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def spark_home() -> Path:
    """pyspark's install, which holds Spark's jars and scripts."""
    try:
        import pyspark
    except ImportError as error:
        raise ConfigError(
            "TIERWISE_ENGINE=spark needs pyspark: install the spark extra (make install does)"
        ) from error
    return Path(pyspark.__file__).parent


@dataclass(frozen=True)
class LocalServer:
    """A Spark Connect server on 127.0.0.1:``port`` keeping its files under ``directory``."""

    directory: Path
    port: int
    master: str = "local[2]"
    driver_memory: str = "2g"

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    @property
    def warehouse_dir(self) -> Path:
        return self.directory / "warehouse"

    @property
    def log_dir(self) -> Path:
        return self.directory / "logs"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOG_DIR=str(self.log_dir),
            SPARK_PID_DIR=str(self.directory / "run"),
            # The scripts name the pid and log files after this: one server per port.
            SPARK_IDENT_STRING=f"tierwise-{self.port}",
            PYSPARK_PYTHON=sys.executable,
        )
        return env

    def _conf(self) -> list[str]:
        metastore = f"jdbc:derby:;databaseName={self.directory / 'metastore_db'};create=true"
        settings = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.sql.warehouse.dir": str(self.warehouse_dir),
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": metastore,
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.directory}",
            "spark.sql.session.timeZone": "UTC",
            # Ingest replaces one load's partitions of a raw table, never the others.
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            # Local mode: a few partitions per shuffle, not the cluster default of 200.
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": "false",
        }
        conf = ["--master", self.master, "--driver-memory", self.driver_memory]
        for key, value in settings.items():
            conf += ["--conf", f"{key}={value}"]
        return conf

    def answering(self) -> bool:
        """True when something accepts connections on the server's port."""
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def pid(self) -> int | None:
        """The server's process id (its JVM) from its pid file, None unless that process lives."""
        pid_file = self.directory / "run" / f"spark-tierwise-{self.port}-{CLASS}-1.pid"
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def running(self) -> bool:
        """True when this server (its pid file's process) is up and answering."""
        return self.pid() is not None and self.answering()

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server unless it runs already, and wait until it takes connections."""
        if self.running():
            return
        if self.answering():
            raise ConfigError(
                f"port {self.port} is taken by another program: set TIERWISE_SPARK_PORT to a free "
                "port, or TIERWISE_SPARK_REMOTE to that server's sc:// URL if it is a Spark Connect server"
            )
        if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
            raise ConfigError("the local Spark server needs Java 17 (java on the PATH, or JAVA_HOME)")
        self.directory.mkdir(parents=True, exist_ok=True)
        progress("spark", f"starting a local Spark Connect server ({self.master}) on {self.url}")
        script = spark_home() / "sbin" / "start-connect-server.sh"
        subprocess.run(
            ["bash", str(script), *self._conf()],
            env=self._env(),
            cwd=self.directory,
            check=True,
            capture_output=True,
        )
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.5)
        log = next(iter(sorted(self.log_dir.glob("*.out"))), None)
        tail = log.read_text(errors="replace")[-2000:] if log else "(no log)"
        raise ConfigError(f"the local Spark Connect server did not start within {timeout:g}s:\n{tail}")

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.running():
            return False
        script = spark_home() / "sbin" / "stop-connect-server.sh"
        subprocess.run(
            ["bash", str(script)], env=self._env(), cwd=self.directory, check=True, capture_output=True
        )
        deadline = time.monotonic() + 30
        while self.answering() and time.monotonic() < deadline:
            time.sleep(0.2)
        return True
