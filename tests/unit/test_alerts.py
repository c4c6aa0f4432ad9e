"""Alerts reach a real HTTP endpoint or SMTP server; a recovery is what Airflow's run record says.

The DAG callbacks get Airflow's own task instance (``RuntimeTaskInstance``), as the DAG
processor builds it; only the supervisor channel it asks for the previous run is answered
here, from a list of runs, the way the execution API answers it.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pendulum
import pytest
from airflow.sdk import DAG
from airflow.sdk.api.datamodels._generated import DagRun, DagRunState, DagRunType, TIRunContext
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.comms import GetPreviousDagRun, PreviousDagRunResult
from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
from tests.fakes.smtp import FakeSmtp

from tierwise import alerts
from tierwise.alerts import Alert, AlertEvent, TierwiseAlert
from tierwise.exceptions import ConfigError, TierwiseError

DAG_ID = "tierwise_pipeline"
UTC = pendulum.UTC


@dataclass
class Hook:
    """What the local webhook received, and the status it answers with."""

    url: str
    status: int = 200
    messages: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


class _Receiver(BaseHTTPRequestHandler):
    hook: ClassVar[Hook]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.hook.messages.append(json.loads(body))
        self.hook.paths.append(self.path)
        self.hook.headers.append(dict(self.headers.items()))
        self.send_response(self.hook.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def webhook(tierwise_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    _Receiver.hook = Hook(f"http://127.0.0.1:{server.server_port}/hook")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, _Receiver.hook.url)
    yield _Receiver.hook
    server.shutdown()
    server.server_close()


@dataclass
class AirflowRecord:
    """The supervisor channel: answers the previous-run question from ``runs`` as the API does."""

    runs: list[DagRun]
    asked: list[GetPreviousDagRun] = field(default_factory=list)

    def send(self, msg: object) -> PreviousDagRunResult:
        assert isinstance(msg, GetPreviousDagRun), msg
        self.asked.append(msg)
        earlier = [
            run
            for run in self.runs
            if run.dag_id == msg.dag_id and run.logical_date and run.logical_date < msg.logical_date
        ]
        return PreviousDagRunResult(dag_run=max(earlier, key=lambda run: run.logical_date, default=None))


def _run(month: int | None, state: DagRunState) -> DagRun:
    """A monthly run (``month`` None: asset-triggered, no logical date)."""
    logical = datetime(2025, month, 1, tzinfo=UTC) if month else None
    run_after = logical or datetime(2025, 6, 1, 3, tzinfo=UTC)
    return DagRun(
        dag_id=DAG_ID,
        run_id=f"run_{month or 'asset'}",
        logical_date=logical,
        data_interval_start=logical,
        data_interval_end=logical + timedelta(days=31) if logical else None,
        run_after=run_after,
        start_date=run_after,
        end_date=None,
        run_type=DagRunType.SCHEDULED if logical else DagRunType.ASSET_TRIGGERED,
        state=state,
        consumed_asset_events=[],
        partition_key=None,
    )


def _context(run: DagRun, *, task_id: str = "dbt_build", exception: object = None) -> Any:
    """The callback context of ``run``, made as the DAG processor makes it."""
    from airflow.providers.standard.operators.empty import EmptyOperator

    with DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
        task = EmptyOperator(task_id=task_id)
    ti = RuntimeTaskInstance.model_construct(
        id=uuid.uuid4(),
        task_id=task_id,
        dag_id=DAG_ID,
        run_id=run.run_id,
        try_number=1,
        map_index=-1,
        task=task,
        _ti_context_from_server=TIRunContext.model_construct(dag_run=run, max_tries=0),
    )
    context = ti.get_template_context()
    if exception is not None:
        context["exception"] = exception
    return context


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> AirflowRecord:
    answers = AirflowRecord([_run(1, DagRunState.FAILED), _run(2, DagRunState.SUCCESS)])
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", answers, raising=False)
    return answers


def test_a_failure_names_dag_task_run_and_error_without_personal_data(webhook: Hook) -> None:
    error = ValueError("boom for jane@example.org")
    TierwiseAlert(AlertEvent.FAILURE).notify(_context(_run(3, DagRunState.RUNNING), exception=error))
    (message,) = webhook.messages
    assert message["text"].startswith("*Tierwise: tierwise_pipeline.dbt_build failed*\nrun run_3: boom for")
    assert "jane@example.org" not in message["text"]


def test_a_success_after_a_failed_run_is_announced_once(webhook: Hook, record: AirflowRecord) -> None:
    recovery = TierwiseAlert(AlertEvent.RECOVERY)
    recovery.notify(_context(_run(2, DagRunState.SUCCESS)))  # January failed
    recovery.notify(_context(_run(3, DagRunState.SUCCESS)))  # February did not
    assert [message["text"] for message in webhook.messages] == [
        "*Tierwise: tierwise_pipeline recovered*\nrun run_2 succeeded after a failure"
    ]
    assert [(asked.dag_id, asked.logical_date.month) for asked in record.asked] == [(DAG_ID, 2), (DAG_ID, 3)]


def test_the_first_run_is_no_recovery(webhook: Hook, record: AirflowRecord) -> None:
    TierwiseAlert(AlertEvent.RECOVERY).notify(_context(_run(1, DagRunState.SUCCESS)))
    assert webhook.messages == []
    assert len(record.asked) == 1


def test_a_run_without_a_logical_date_has_no_previous_run(webhook: Hook, record: AirflowRecord) -> None:
    """Asset-triggered runs: Airflow's API orders runs by logical date only (docs say so)."""
    TierwiseAlert(AlertEvent.RECOVERY).notify(_context(_run(None, DagRunState.SUCCESS)))
    assert webhook.messages == []
    assert record.asked == []


def test_without_airflows_api_a_success_is_logged_not_announced(webhook: Hook, caplog) -> None:
    """`airflow dags test` runs DAG callbacks where the task runner has no supervisor to ask."""
    assert not hasattr(task_runner, "SUPERVISOR_COMMS")
    TierwiseAlert(AlertEvent.RECOVERY)(_context(_run(2, DagRunState.SUCCESS)))
    assert webhook.messages == []
    assert "recovery not checked" in caplog.text


def test_a_callback_context_without_a_task_instance_is_no_recovery(webhook: Hook, record) -> None:
    """The DAG processor's minimal context, when the run has no task left to describe it."""
    dag = DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
    TierwiseAlert(AlertEvent.RECOVERY).notify({"dag": dag, "run_id": "run_2"})
    assert webhook.messages == []


def test_dag_callbacks_run_with_the_serialized_dag_of_airflow_dags_test(
    webhook: Hook, record: AirflowRecord
) -> None:
    """`airflow dags test` hands DAG-level callbacks a SerializedDAG (no template environment)."""
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
    serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    context = {**_context(_run(2, DagRunState.SUCCESS), exception="boom"), "dag": serialized}
    TierwiseAlert(AlertEvent.FAILURE)(context)  # BaseNotifier.__call__, as Airflow calls it
    TierwiseAlert(AlertEvent.RECOVERY)(context)
    assert [message["text"].split("\n")[0] for message in webhook.messages] == [
        "*Tierwise: tierwise_pipeline.dbt_build failed*",
        "*Tierwise: tierwise_pipeline recovered*",
    ]


def test_without_connection_alerts_are_logged(tierwise_env, monkeypatch, caplog) -> None:
    monkeypatch.delenv(alerts.ALERTS_CONN_ENV, raising=False)
    assert alerts.send_alert(Alert("subject", "call +44 20 7946 0958")) == "log"
    assert "subject" in caplog.text and "7946" not in caplog.text


def test_unknown_scheme_is_an_error(tierwise_env, monkeypatch) -> None:
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, "ftp://example.org")
    with pytest.raises(ConfigError, match="unsupported scheme 'ftp'"):
        alerts.send_alert(Alert("s", "t"))


@pytest.mark.parametrize("form", ["uri", "json"])
def test_a_slack_webhook_url_is_posted_to_as_written(webhook: Hook, monkeypatch, form: str) -> None:
    """Slack's incoming-webhook URLs carry their secret in a path of several segments."""
    url = webhook.url.replace("/hook", "/services/T000/B000/XXXX")
    value = url if form == "uri" else json.dumps({"conn_type": "http", "host": url})
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, value)
    assert alerts.send_alert(Alert("subject", "text")) == "webhook"
    assert webhook.paths == ["/services/T000/B000/XXXX"]
    assert "Authorization" not in webhook.headers[0]


def test_the_password_goes_as_a_bearer_token(webhook: Hook, monkeypatch) -> None:
    connection = {"conn_type": "http", "host": webhook.url, "password": "alert-token-1"}
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, json.dumps(connection))
    alerts.send_alert(Alert("subject", "text"))
    assert webhook.headers[0]["Authorization"] == "Bearer alert-token-1"


def test_a_refused_webhook_is_an_error_that_does_not_show_the_url(webhook: Hook, monkeypatch) -> None:
    url = webhook.url.replace("/hook", "/services/T000/B000/SECRETPATH")
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, url)
    webhook.status = 500
    with pytest.raises(TierwiseError, match="HTTP 500") as raised:
        alerts.send_alert(Alert("subject", "text"))
    assert "SECRETPATH" not in str(raised.value) and raised.value.__cause__ is None


def test_the_deadline_alert_names_the_run(webhook: Hook) -> None:
    dag_run = {"dag_id": "tierwise_monthly_review", "dag_run_id": "scheduled__2026-01-05", "state": "running"}
    deadline = {"id": "1", "deadline_time": "2026-01-05T12:00:00+00:00"}
    alerts.deadline_missed(context={"dag_run": dag_run, "deadline": deadline})
    assert webhook.messages[0]["text"] == (
        "*Tierwise: monthly tier review missed its deadline*\n"
        "tierwise_monthly_review run scheduled__2026-01-05 (state running) had not finished by "
        "2026-01-05T12:00:00+00:00"
    )


def _smtp_uri(smtp: FakeSmtp, to: str) -> str:
    return (
        f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true&from_email=alerts@test.invalid{to}"
    )


def test_an_alert_by_mail_reads_the_connection_as_notifications_do(tierwise_env, monkeypatch) -> None:
    with FakeSmtp() as smtp:
        monkeypatch.setenv(
            alerts.ALERTS_CONN_ENV, _smtp_uri(smtp, "&to=ops@test.invalid,oncall@test.invalid")
        )
        alert = Alert("tierwise_pipeline failed", "ingest_orders: IngestError for jane@example.org")
        assert alerts.send_alert(alert) == "smtp"
    (message,) = smtp.messages
    assert (message["Subject"], message["From"], message["To"]) == (
        "tierwise_pipeline failed",
        "alerts@test.invalid",
        "ops@test.invalid, oncall@test.invalid",
    )
    assert smtp.envelopes[0][1] == ["ops@test.invalid", "oncall@test.invalid"]
    assert "jane@example.org" not in message.get_content()


def test_an_smtp_connection_without_recipients_is_an_error(tierwise_env, monkeypatch) -> None:
    with FakeSmtp() as smtp:
        monkeypatch.setenv(alerts.ALERTS_CONN_ENV, _smtp_uri(smtp, ""))
        with pytest.raises(ConfigError, match="recipients in extra 'to'"):
            alerts.send_alert(Alert("subject", "text"))
    assert smtp.messages == []


def test_a_refused_mail_is_an_error_that_is_not_chained(tierwise_env, monkeypatch) -> None:
    """smtplib's errors can quote the recipients' addresses: the alert's error is masked and alone."""
    with FakeSmtp(faults=deque(["451"])) as smtp:
        monkeypatch.setenv(alerts.ALERTS_CONN_ENV, _smtp_uri(smtp, "&to=ops@test.invalid"))
        with pytest.raises(TierwiseError, match="e-mail not sent: SMTPDataError") as raised:
            alerts.send_alert(Alert("subject", "text"))
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
