"""Run alerts (task failures, recoveries, the monthly review's missed deadline) as Airflow notifiers.

:class:`TierwiseAlert` is the callback the DAGs attach. It words the alert and hands it to the
notifier of the channel that the ``tierwise_alerts`` connection names; that connection is
resolved like every Tierwise connection (:mod:`tierwise.publish.connections`: the
environment, else Airflow's own):

- ``http``/``https``: a Slack-compatible incoming webhook, its URL in the URI
  (``AIRFLOW_CONN_TIERWISE_ALERTS=https://hooks.example.com/services/...``) or in the host of
  the JSON form (``{"conn_type": "http", "host": "https://hooks.example.com/services/..."}``);
  a password, if any, is sent as a bearer token.
- ``smtp``/``smtps``: e-mail, read as ``tierwise_smtp`` is (``from_email``, ``disable_ssl``,
  ``disable_tls``, ``timeout``), the recipients in extra ``to``
  (``smtp://user:pass@host:587?to=oncall@example.org``).

Without the connection, alerts are only logged. A success is a recovery when Airflow recorded
the DAG's previous run (by logical date) as failed; nothing is kept beside Airflow's record.
Customers' tier-change notifications are not alerts: they go to ``tierwise_webhook`` /
``tierwise_smtp`` (:mod:`tierwise.publish`).

Why hand-written: no installed provider posts to a Slack-compatible webhook (the Slack provider
is not installed and wants its own connection type), and it is one JSON POST. E-mail goes
through the notifications' SMTP session rather than the SMTP provider's notifier, so that
Tierwise has one SMTP client and one reading of an SMTP connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from airflow.sdk import BaseNotifier, DagRunState

from tierwise.console import mask_pii
from tierwise.exceptions import ConfigError, TierwiseError
from tierwise.masking import get_logger, register_secret

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tierwise.publish.connections import Connection

ALERTS_CONN_ID = "tierwise_alerts"
ALERTS_CONN_ENV = "AIRFLOW_CONN_TIERWISE_ALERTS"
WEBHOOK_TIMEOUT_SECONDS = 10.0
log = get_logger(__name__)


class AlertEvent(StrEnum):
    FAILURE = "failure"
    RECOVERY = "recovery"


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str

    def masked(self) -> Alert:
        """The alert without personal data or secrets (an exception may quote either)."""
        return Alert(mask_pii(self.subject), mask_pii(self.text))


class ChannelNotifier(BaseNotifier):
    """Delivers one worded alert over the alerts connection."""

    channel: ClassVar[str]
    # The alert is worded already: nothing to render.
    template_fields = ()

    def __init__(self, connection: Connection, alert: Alert) -> None:
        super().__init__()
        self.connection = connection
        self.alert = alert


class WebhookNotifier(ChannelNotifier):
    """A Slack-compatible incoming webhook: one JSON POST of ``{"text": ...}``."""

    channel = "webhook"

    def notify(self, context: Context) -> None:
        from tierwise.publish.connections import base_url

        url = base_url(self.connection)
        # A webhook URL is its own credential (the secret is in the path): never in a log.
        register_secret(url)
        headers = {"Authorization": f"Bearer {self.connection.password}"} if self.connection.password else {}
        body = {"text": f"*{self.alert.subject}*\n{self.alert.text}"}
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
            response.raise_for_status()
        except httpx.HTTPStatusError as error:
            # Not chained: httpx's messages quote the URL, which is the secret.
            status = error.response.status_code
            raise TierwiseError(f"{ALERTS_CONN_ID}: webhook answered HTTP {status}") from None
        except httpx.HTTPError as error:
            raise TierwiseError(f"{ALERTS_CONN_ID}: webhook not reached: {type(error).__name__}") from None


class MailNotifier(ChannelNotifier):
    """An e-mail over the SMTP session of the tier-change notifications."""

    channel = "smtp"

    def notify(self, context: Context) -> None:
        import smtplib
        from email.message import EmailMessage

        from tierwise.publish.config import NotificationConfig
        from tierwise.publish.smtp import open_session, smtp_settings

        settings = smtp_settings(self.connection, NotificationConfig())
        if not settings.recipients:
            raise ConfigError(f"{ALERTS_CONN_ENV}: an smtp alert connection needs recipients in extra 'to'")
        message = EmailMessage()
        message["Subject"] = self.alert.subject
        message["From"] = settings.sender
        message["To"] = ", ".join(settings.recipients)
        message.set_content(self.alert.text)
        try:
            with open_session(settings) as session:
                session.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            # Not chained: smtplib's errors quote the recipients' addresses.
            raise TierwiseError(f"{ALERTS_CONN_ID}: e-mail not sent: {mask_pii(repr(error))}") from None


_NOTIFIERS: dict[str, type[ChannelNotifier]] = {
    "http": WebhookNotifier,
    "https": WebhookNotifier,
    "smtp": MailNotifier,
    "smtps": MailNotifier,
}


def notifier_for(connection: Connection, alert: Alert) -> ChannelNotifier:
    """The notifier of the channel ``connection`` names."""
    notifier = _NOTIFIERS.get(connection.conn_type)
    if notifier is None:
        raise ConfigError(
            f"{ALERTS_CONN_ENV} has unsupported scheme {connection.conn_type!r} (use https or smtp)"
        )
    return notifier(connection, alert)


def send_alert(alert: Alert, context: Context | None = None) -> str:
    """Deliver one alert; returns the channel used ('webhook', 'smtp' or 'log')."""
    # Imported here: the DAG files import this module at parse time.
    from tierwise.publish.connections import get_connection

    safe = alert.masked()
    connection = get_connection(ALERTS_CONN_ID)
    if connection is None:
        log.warning("alert (no %s configured): %s — %s", ALERTS_CONN_ENV, safe.subject, safe.text)
        return "log"
    notifier = notifier_for(connection, safe)
    notifier.notify(context or {})
    return notifier.channel


def previous_run_failed(context: Context) -> bool:
    """Whether Airflow recorded the DAG's previous run (by logical date) as failed.

    A run without a logical date (asset-triggered, or triggered without one) has no previous
    run in Airflow's execution API, so its success is never announced as a recovery.
    """
    ti = context.get("ti")
    if ti is None:
        return False
    try:
        previous = ti.get_previous_dagrun()
    except Exception as error:  # `airflow dags test` runs DAG callbacks without Airflow's API
        log.info("recovery not checked: Airflow's run history is out of reach (%s)", type(error).__name__)
        return False
    return previous is not None and previous.state == DagRunState.FAILED


class TierwiseAlert(BaseNotifier):
    """Callback for task failures and DAG recoveries (a success after a failed run)."""

    # The event is a fixed word, not a template: nothing to render.
    template_fields = ()

    def __init__(self, event: AlertEvent) -> None:
        super().__init__()
        self.event = event

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render only when there is something to render.

        ``airflow dags test`` hands DAG-level callbacks a SerializedDAG, which has no template
        environment, so BaseNotifier's unconditional rendering fails there with "'SerializedDAG'
        object has no attribute 'get_template_env'" (apache/airflow#64649); the DAG processor,
        which runs them in a deployment, hands them the DAG itself.
        """
        if self.template_fields:
            super().render_template_fields(context, jinja_env)

    def notify(self, context: Context) -> None:
        alert = self.compose(context)
        if alert is not None:
            send_alert(alert, context)

    def compose(self, context: Context) -> Alert | None:
        """The alert this event makes of ``context``; None when there is nothing to say."""
        dag_id = context["dag"].dag_id
        run_id = context.get("run_id", "?")
        if self.event is AlertEvent.FAILURE:
            ti = context.get("ti")
            error = context.get("exception") or "see the task log"
            return Alert(f"Tierwise: {dag_id}.{ti.task_id if ti else '?'} failed", f"run {run_id}: {error}")
        if previous_run_failed(context):
            return Alert(f"Tierwise: {dag_id} recovered", f"run {run_id} succeeded after a failure")
        return None


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
        Alert(
            "Tierwise: monthly tier review missed its deadline",
            f"{run} (state {state}) had not finished by {deadline.get('deadline_time', 'its deadline')}",
        )
    )
