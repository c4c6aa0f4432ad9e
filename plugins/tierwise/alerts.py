"""Failure, recovery and deadline alerts, sent where the `tierwise_alerts` connection points.

The connection decides the channel: an ``http``/``https`` connection is a
Slack-compatible incoming webhook (``AIRFLOW_CONN_TIERWISE_ALERTS=https://hooks.example/...``),
an ``smtp`` connection sends e-mail (``smtp://user:pass@host:587?to=oncall@example.org``).
Without the connection, alerts are only logged.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow.sdk import BaseNotifier

from tierwise.console import mask_pii
from tierwise.settings import get_settings

ALERTS_CONN_ID = "tierwise_alerts"
ALERTS_CONN_ENV = "AIRFLOW_CONN_TIERWISE_ALERTS"
log = logging.getLogger(__name__)


def _alerts_uri() -> str | None:
    """The `tierwise_alerts` connection as a URI, from Airflow's secrets backends or the env."""
    import os

    try:
        from airflow.sdk import Connection

        return Connection.get(ALERTS_CONN_ID).get_uri()
    except Exception:  # outside a task, or the connection is not defined
        return os.environ.get(ALERTS_CONN_ENV) or None


def send_alert(subject: str, text: str, uri: str | None = None) -> str:
    """Deliver one alert; returns the channel used ('webhook', 'smtp' or 'log')."""
    target = uri or _alerts_uri()
    safe_text = mask_pii(text)
    if not target:
        log.warning("alert (no %s configured): %s — %s", ALERTS_CONN_ENV, subject, safe_text)
        return "log"
    parts = urlsplit(target)
    if parts.scheme in {"http", "https"}:
        body = json.dumps({"text": f"*{subject}*\n{safe_text}"}).encode()
        request = urllib.request.Request(target, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return "webhook"
    if parts.scheme in {"smtp", "smtps"}:
        _send_mail(parts, subject, safe_text)
        return "smtp"
    raise ValueError(f"{ALERTS_CONN_ENV} has unsupported scheme {parts.scheme!r} (use https or smtp)")


def _send_mail(parts: Any, subject: str, text: str) -> None:
    recipients = parse_qs(parts.query).get("to", [])
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = parse_qs(parts.query).get("from", ["tierwise@localhost"])[0]
    message["To"] = ", ".join(recipients)
    message.set_content(text)
    with smtplib.SMTP(parts.hostname or "localhost", parts.port or 25, timeout=10) as client:
        if parts.username:
            client.starttls()
            client.login(parts.username, parts.password or "")
        client.send_message(message)


def _state_file() -> Path:
    return get_settings().log_dir / "alerts_state.json"


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

    template_fields = ("event",)

    def __init__(self, event: str) -> None:
        super().__init__()
        self.event = event

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
    """Deadline callback: the monthly review has not finished in time."""
    context = kwargs.get("context") or {}
    dag_run = context.get("dag_run") or {}
    send_alert("Tierwise: monthly tier review missed its deadline", f"run {dag_run}")
