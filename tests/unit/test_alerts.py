"""Alerts reach a real HTTP endpoint; recovery is announced only after a failure."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import ClassVar

import pytest

from tierwise import alerts


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    paths: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        _Receiver.paths.append(self.path)
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
    _Receiver.paths = []
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


@pytest.mark.parametrize("form", ["uri", "json"])
def test_a_slack_webhook_url_is_posted_to_as_written(tierwise_env, webhook, monkeypatch, form: str) -> None:
    """Slack's incoming-webhook URLs carry their secret in a path of several segments."""
    url = os.environ[alerts.ALERTS_CONN_ENV].replace("/hook", "/services/T000/B000/XXXX")
    value = url if form == "uri" else json.dumps({"conn_type": "http", "host": url})
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, value)
    assert alerts.send_alert("subject", "text") == "webhook"
    assert _Receiver.paths == ["/services/T000/B000/XXXX"]


def test_dag_callbacks_run_with_the_serialized_dag_of_airflow_dags_test(tierwise_env, webhook) -> None:
    """`airflow dags test` hands DAG-level callbacks a SerializedDAG (no template environment)."""
    import pendulum
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DAG("tierwise_pipeline", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
    serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    context = {**_context(), "dag": serialized}
    alerts.TierwiseAlert("failure")(context)  # BaseNotifier.__call__, as Airflow calls it
    alerts.TierwiseAlert("recovery")(context)
    assert [message["text"].split("\n")[0] for message in webhook] == [
        "*Tierwise: tierwise_pipeline.dbt_build failed*",
        "*Tierwise: tierwise_pipeline recovered*",
    ]


def test_an_alert_by_mail_reads_the_connection_as_notifications_do() -> None:
    from tests.fakes.smtp import FakeSmtp

    from tierwise.alerts import send_alert

    with FakeSmtp() as smtp:
        uri = (
            f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true"
            "&from_email=alerts@test.invalid&to=ops@test.invalid,oncall@test.invalid"
        )
        assert send_alert("tierwise_pipeline failed", "ingest_orders: IngestError", uri) == "smtp"
    (message,) = smtp.messages
    assert (message["From"], message["To"]) == (
        "alerts@test.invalid",
        "ops@test.invalid, oncall@test.invalid",
    )
    assert smtp.envelopes[0][1] == ["ops@test.invalid", "oncall@test.invalid"]
