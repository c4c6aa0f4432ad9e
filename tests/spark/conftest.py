"""One local Spark Connect server for the Spark tests, started by the tests and stopped after them.

A JVM start costs ~15 s on these machines, so the server is shared by the session; each test
that builds gets an empty catalog (:func:`spark_catalog`). Where Java is missing the tests skip
with a message: Spark's local server needs Java 17.
"""

from __future__ import annotations

import logging
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierwise.engine.spark import close_sessions, keep_standard_loggers
from tierwise.engine.spark_server import LocalServer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java 17 (java on the PATH) for Spark's local server")
    server = LocalServer(tmp_path_factory.mktemp("spark"), _free_port(), "local[2]")
    server.start()
    try:
        yield server
    finally:
        close_sessions()
        server.stop()


@pytest.fixture(autouse=True)
def _standard_loggers() -> Iterator[None]:
    """No Spark test leaves pyspark's logger class behind for the tests after it."""
    yield
    keep_standard_loggers()
    assert logging.getLoggerClass() is logging.Logger


def clear_catalog(server: LocalServer) -> None:
    """Drop every database of the server but ``default``, with its tables."""
    from tierwise.engine.spark import session_for

    spark = session_for(server.url)
    for database in spark.catalog.listDatabases():
        if database.name != "default":
            spark.sql(f"drop database if exists `{database.name}` cascade")


@pytest.fixture
def spark_catalog(spark_server: LocalServer) -> Iterator[LocalServer]:
    """The shared server with no database but ``default`` before and after the test."""
    clear_catalog(spark_server)
    yield spark_server
    clear_catalog(spark_server)


@pytest.fixture
def spark_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark_catalog: LocalServer) -> Path:
    """A Tierwise workspace on the Spark engine, at the test's server (an isolated home)."""
    from tests.support import isolate_tierwise

    isolate_tierwise(tmp_path, monkeypatch)
    monkeypatch.setenv("TIERWISE_ENGINE", "spark")
    monkeypatch.setenv("TIERWISE_SPARK_DIR", str(spark_catalog.directory))
    monkeypatch.setenv("TIERWISE_SPARK_PORT", str(spark_catalog.port))
    return tmp_path
