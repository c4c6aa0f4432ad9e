"""The local Spark Connect server's checks before it starts a JVM."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tierwise.engine.spark_server import LocalServer
from tierwise.exceptions import ConfigError


def test_a_port_another_program_holds_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        server = LocalServer(tmp_path, port)
        assert server.answering() and not server.running()
        with pytest.raises(
            ConfigError, match=f"port {port} is taken by another program: set TIERWISE_SPARK_PORT"
        ):
            server.start()
    assert not (tmp_path / "run").exists()


def test_a_server_that_never_ran_is_not_running_and_stops_as_a_no_op(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "spark", 1)
    assert not server.running()
    assert server.stop() is False
    assert server.url == "sc://127.0.0.1:1"
