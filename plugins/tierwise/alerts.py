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

Without the connection, alerts are only logged. Customers' tier-change notifications are not
alerts: they go to ``tierwise_webhook`` / ``tierwise_smtp`` (:mod:`tierwise.publish`).

A recovery is a DAG's first success after a failure alert, whatever started its runs. The
failure alert keeps the failed run's id in the Airflow Variable ``tierwise_alerts__<dag_id>``;
the DAG's next success announces the recovery and deletes it. Why a Variable rather than the
run history: the Task SDK finds a DAG's previous run by logical date only (``GetPreviousDagRun``;
no request orders runs by ``run_after`` or start date), and asset-triggered and manual runs have
none, so their recoveries went unannounced. A Variable is Airflow's own storage (the metadata
database, shown under Admin > Variables; no file beside it) and reachable wherever the callbacks
run: a task, and the DAG processor (DAG-level callbacks, and the failure callbacks of tasks the
scheduler failed), ask their supervisor (``airflow.sdk.Variable``); ``airflow dags test`` runs
DAG-level callbacks in its own process, which has no supervisor but owns the metadata database
(``airflow.models.Variable``). One Variable per DAG needs no locking, as a DAG runs one run at a
time. Pairing the two alerts also means that a failure whose alert was not delivered is still
followed by a recovery, and that a run marked failed by hand (no alert) is not.

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
from airflow.sdk import BaseNotifier

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


FAILURE_VARIABLE_PREFIX = "tierwise_alerts__"
FAILURE_VARIABLE_DESCRIPTION = (
    "Tierwise: this DAG's run whose failure was alerted. The DAG's next success announces the "
    "recovery and deletes this Variable; delete it by hand to skip that recovery alert."
)


def failure_variable(dag_id: str) -> str:
    """The Airflow Variable that holds ``dag_id``'s alerted failed run until the DAG recovers."""
    return f"{FAILURE_VARIABLE_PREFIX}{dag_id}"


def airflow_variable() -> Any:
    """Airflow's Variable class as this process reaches Variables.

    A task and the DAG processor ask their supervisor: the Task SDK's Variable. ``airflow dags
    test`` runs DAG-level callbacks in its own process, without a supervisor, where the Task SDK's
    Variable reads only the environment and secrets backends and cannot write; that process owns
    the metadata database, which the core Variable reads and writes. (The core Variable makes
    the same choice itself, but warns that it is deprecated wherever a supervisor is present.)
    Both take ``get(key, default)``, ``set(key, value, description)`` and ``delete(key)``.
    """
    from airflow.sdk.execution_time import task_runner

    if getattr(task_runner, "SUPERVISOR_COMMS", None) is not None:
        from airflow.sdk import Variable
    else:
        from airflow.models import Variable
    return Variable


def remember_failure(dag_id: str, run_id: str) -> None:
    """Keep the alerted failed run until the DAG's next success."""
    try:
        airflow_variable().set(failure_variable(dag_id), run_id, FAILURE_VARIABLE_DESCRIPTION)
    except Exception as error:  # the failure alert goes out all the same
        log.warning("%s: its recovery will not be announced (%s)", dag_id, type(error).__name__)


def unrecovered_failure(dag_id: str) -> str | None:
    """The run of ``dag_id`` whose failure was alerted and no success has followed, if any."""
    try:
        value = airflow_variable().get(failure_variable(dag_id), None)
    except Exception as error:  # a success never fails for the alerts' bookkeeping
        log.info(
            "%s: recovery not checked, Airflow's Variables out of reach (%s)", dag_id, type(error).__name__
        )
        return None
    return None if value is None else str(value)


def forget_failure(dag_id: str) -> None:
    """The recovery is announced: the next success is no recovery."""
    try:
        airflow_variable().delete(failure_variable(dag_id))
    except Exception as error:
        log.warning(
            "%s: recovery not recorded, the next success repeats it (%s)", dag_id, type(error).__name__
        )


class TierwiseAlert(BaseNotifier):
    """Callback for task failures and DAG recoveries (a success after a failure alert)."""

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
        dag_id = context["dag"].dag_id
        run_id = str(context.get("run_id", "?"))
        if self.event is AlertEvent.FAILURE:
            # Kept first: a failure whose alert could not be delivered is still followed by a recovery.
            remember_failure(dag_id, run_id)
            send_alert(failure_alert(context), context)
            return
        failed_run = unrecovered_failure(dag_id)
        if failed_run is not None:
            # Sent before forgetting: a recovery that could not be delivered is tried again.
            send_alert(recovery_alert(dag_id, run_id, failed_run), context)
            forget_failure(dag_id)


def failure_alert(context: Context) -> Alert:
    ti = context.get("ti")
    error = context.get("exception") or "see the task log"
    dag_id = context["dag"].dag_id
    return Alert(
        f"Tierwise: {dag_id}.{ti.task_id if ti else '?'} failed", f"run {context.get('run_id', '?')}: {error}"
    )


def recovery_alert(dag_id: str, run_id: str, failed_run: str) -> Alert:
    return Alert(f"Tierwise: {dag_id} recovered", f"run {run_id} succeeded after run {failed_run} failed")


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
