"""Failure, recovery and deadline alerts, sent where the `tierwise_alerts` connection points.

The connection decides the channel: an ``http``/``https`` connection is a
Slack-compatible incoming webhook, its URL in the URI
(``AIRFLOW_CONN_TIERWISE_ALERTS=https://hooks.example.com/services/...``) or in the host
of the JSON form (``{"conn_type": "http", "host": "https://hooks.example.com/services/..."}``),
a password, if any, sent as a bearer token; an ``smtp`` connection sends e-mail
(``smtp://user:pass@host:587?to=oncall@example.org``). It is resolved like every Tierwise
connection (:mod:`tierwise.publish.connections`): the environment, else Airflow's own.
Without the connection, alerts are only logged. Customers' tier-change notifications are
not alerts: they go to ``tierwise_webhook`` / ``tierwise_smtp`` (:mod:`tierwise.publish`).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from tierwise.console import mask_pii

if TYPE_CHECKING:
    from tierwise.publish.connections import Connection

ALERTS_CONN_ID = "tierwise_alerts"
ALERTS_CONN_ENV = "AIRFLOW_CONN_TIERWISE_ALERTS"
log = logging.getLogger(__name__)


def _alerts_connection(uri: str | None) -> Connection | None:
    # Imported here: the DAG files import this module at parse time.
    from tierwise.publish.connections import get_connection, parse_connection

    return parse_connection(ALERTS_CONN_ID, uri) if uri else get_connection(ALERTS_CONN_ID)


def send_alert(subject: str, text: str, uri: str | None = None) -> str:
    """Deliver one alert; returns the channel used ('webhook', 'smtp' or 'log')."""
    connection = _alerts_connection(uri)
    safe_text = mask_pii(text)
    if connection is None:
        log.warning("alert (no %s configured): %s — %s", ALERTS_CONN_ENV, subject, safe_text)
        return "log"
    if connection.conn_type in {"http", "https"}:
        _post(connection, f"*{subject}*\n{safe_text}")
        return "webhook"
    if connection.conn_type in {"smtp", "smtps"}:
        _send_mail(connection, subject, safe_text)
        return "smtp"
    raise ValueError(f"{ALERTS_CONN_ENV} has unsupported scheme {connection.conn_type!r} (use https or smtp)")


def _post(connection: Connection, text: str) -> None:
    from tierwise.publish.connections import base_url

    headers = {"Content-Type": "application/json"}
    if connection.password:
        headers["Authorization"] = f"Bearer {connection.password}"
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(base_url(connection), data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _send_mail(connection: Connection, subject: str, text: str) -> None:
    """One alert e-mail, over the same SMTP settings as the tier-change notifications."""
    from email.message import EmailMessage

    from tierwise.publish.config import NotificationConfig
    from tierwise.publish.smtp import open_session, smtp_settings

    settings = smtp_settings(connection, NotificationConfig())
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(text)
    with open_session(settings) as client:
        client.send_message(message)


def _state_file() -> Path:
    from tierwise.context import workspace

    return workspace().log_dir / "alerts_state.json"


def _last_state(dag_id: str) -> str | None:
    path = _state_file()
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(dag_id)


def _remember(dag_id: str, state: str) -> None:
    path = _state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    states = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    states[dag_id] = state
    path.write_text(json.dumps(states), encoding="utf-8")


class TierwiseAlert(BaseNotifier):
    """Notifier for task failures and DAG recoveries (success after a failure)."""

    # The event is a fixed word, not a template: nothing to render.
    template_fields = ()

    def __init__(self, event: str) -> None:
        super().__init__()
        self.event = event

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render only when there is something to render.

        ``airflow dags test`` hands DAG-level callbacks a SerializedDAG, which has no template
        environment, so BaseNotifier's unconditional rendering fails there with "'SerializedDAG'
        object has no attribute 'get_template_env'" (apache/airflow#64649); the DAG processor,
        which runs them in a deployment, hands them the DAG itself.
        """
        if self.template_fields:
            super().render_template_fields(context, jinja_env)

    def notify(self, context: dict[str, Any]) -> None:
        dag_id = context["dag"].dag_id
        run_id = context.get("run_id", "?")
        if self.event == "failure":
            task_id = context["ti"].task_id if context.get("ti") else "?"
            error = context.get("exception") or "see the task log"
            send_alert(f"Tierwise: {dag_id}.{task_id} failed", f"run {run_id}: {error}")
            _remember(dag_id, "failed")
        elif self.event == "recovery" and _last_state(dag_id) == "failed":
            send_alert(f"Tierwise: {dag_id} recovered", f"run {run_id} succeeded after a failure")
            _remember(dag_id, "ok")


def deadline_missed(**kwargs: Any) -> None:
    """Deadline callback (``SyncCallback``): the monthly review has not finished in time.

    Airflow 3.3 calls it with ``context={"dag_run": <the run as the REST API shows it>,
    "deadline": {"id": ..., "deadline_time": ...}}`` (``Deadline.handle_miss``).
    """
    context = kwargs.get("context") or {}
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    run = f"{dag_run.get('dag_id', 'tierwise_monthly_review')} run {dag_run.get('dag_run_id', '?')}"
    state = dag_run.get("state", "?")
    send_alert(
        "Tierwise: monthly tier review missed its deadline",
        f"{run} (state {state}) had not finished by {deadline.get('deadline_time', 'its deadline')}",
    )
