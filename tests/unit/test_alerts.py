"""Alerts reach a real HTTP endpoint; recovery is announced only after a failure."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import ClassVar

import pytest

from tierwise import alerts


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.received = []
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, f"http://127.0.0.1:{server.server_port}/hook")
    yield _Receiver.received
    server.shutdown()


def _context(task_id: str = "dbt_build") -> dict:
    return {
        "dag": SimpleNamespace(dag_id="tierwise_pipeline"),
        "run_id": "manual__1",
        "ti": SimpleNamespace(task_id=task_id),
        "exception": ValueError("boom for jane@example.org"),
    }


def test_failure_then_recovery(tierwise_env, webhook: list[dict]) -> None:
    alerts.TierwiseAlert("recovery").notify(_context())
    assert webhook == [], "no recovery without an earlier failure"
    alerts.TierwiseAlert("failure").notify(_context())
    assert "tierwise_pipeline.dbt_build failed" in webhook[0]["text"]
    assert "jane@example.org" not in webhook[0]["text"]
    alerts.TierwiseAlert("recovery").notify(_context())
    assert "recovered" in webhook[1]["text"]
    alerts.TierwiseAlert("recovery").notify(_context())
    assert len(webhook) == 2


def test_without_connection_alerts_are_logged(tierwise_env, monkeypatch, caplog) -> None:
    monkeypatch.delenv(alerts.ALERTS_CONN_ENV, raising=False)
    assert alerts.send_alert("subject", "text") == "log"


def test_unknown_scheme_is_an_error(tierwise_env) -> None:
    with pytest.raises(ValueError, match="unsupported scheme"):
        alerts.send_alert("s", "t", uri="ftp://example.org")
