"""Tier-change notifications by email: one digest per batch of changes, over SMTP.

Connection ``tierwise_smtp`` follows the Airflow SMTP provider's extras: ``from_email``,
``disable_ssl`` (default false: SMTP over SSL), ``disable_tls`` (default false: STARTTLS
when not over SSL), ``timeout``; recipients come from extra ``to`` or the settings.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from tierwise.masking import mask
from tierwise.publish import notify
from tierwise.publish.config import NotificationConfig
from tierwise.publish.connections import Connection, extra_flag
from tierwise.publish.engine import Batch, RecordResult
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.retry import RetriesExhaustedError, RetryableError, RetryPolicy, call_with_retries

_TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    login: str | None
    password: str | None
    use_ssl: bool
    use_tls: bool
    timeout: float
    sender: str
    recipients: tuple[str, ...]


def smtp_settings(connection: Connection, config: NotificationConfig) -> SmtpSettings:
    use_ssl = not extra_flag(connection, "disable_ssl")
    raw_to = connection.extra.get("to") or config.email_to
    recipients = tuple(part.strip() for part in (raw_to.split(",") if isinstance(raw_to, str) else raw_to))
    return SmtpSettings(
        host=connection.host or "localhost",
        port=connection.port or (465 if use_ssl else 25),
        login=connection.login,
        password=connection.password,
        use_ssl=use_ssl,
        use_tls=not extra_flag(connection, "disable_tls"),
        timeout=float(connection.extra.get("timeout") or config.timeout_seconds),
        sender=str(connection.extra.get("from_email") or config.email_from),
        recipients=tuple(address for address in recipients if address),
    )


def open_session(settings: SmtpSettings) -> smtplib.SMTP:
    """A session ready to send: SMTPS, or SMTP with STARTTLS unless disabled; logged in if asked.

    Shared by the tier-change notifications and the run alerts (tierwise.alerts).
    """
    context = ssl.create_default_context()
    session: smtplib.SMTP
    if settings.use_ssl:
        session = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        session = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.use_tls:
            session.starttls(context=context)
    if settings.login:
        session.login(settings.login, settings.password or "")
    return session


class EmailNotifier:
    """A Destination sending one email digest per batch of changes."""

    supports_delete = False
    resync_safe = False

    def __init__(self, settings: SmtpSettings, config: NotificationConfig, *, target: str) -> None:
        self.settings = settings
        self.batch_size = max(1, config.batch_size)
        # Keyed by channel, not server: moving to another relay must not re-send digests.
        self.name = "notifications.email"
        self.target = target
        self._policy = RetryPolicy(
            max_retries=config.max_retries,
            base_delay=config.retry_base_delay,
            max_delay=config.retry_max_delay,
        )

    def send(self, batch: Batch) -> Sequence[RecordResult]:
        if not self.settings.recipients:
            # Checked here, not at construction: the other channels still get their messages.
            raise DestinationUnavailableError(f"{self.name}: no recipients (extra 'to' or email_to)")
        message = self._message(notify.changes_of(batch))
        try:
            call_with_retries(lambda: self._deliver(message), self._policy)
        except RetriesExhaustedError as error:
            raise DestinationUnavailableError(f"{self.name}: {mask(error)}") from error
        return [RecordResult(record.key, ok=True) for record in batch.records]

    def close(self) -> None:
        """Nothing to release: each digest uses its own SMTP session."""

    def _message(self, changes: list[notify.Change]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = notify.title(changes)
        message["From"] = self.settings.sender
        message["To"] = ", ".join(self.settings.recipients)
        message["Date"] = formatdate(localtime=False)
        # Stable per set of changes: a resent digest carries the same Message-ID.
        message["Message-ID"] = f"<{notify.idempotency_key(changes)}@tierwise>"
        message.set_content(notify.email_body(changes))
        return message

    def _deliver(self, message: EmailMessage) -> None:
        try:
            with open_session(self.settings) as session:
                session.send_message(message)
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                raise RetryableError(f"SMTP {error.smtp_code}") from error
            if isinstance(error, smtplib.SMTPDataError):
                raise BatchRejectedError(mask(f"SMTP {error.smtp_code}: {error.smtp_error!r}")) from error
            raise DestinationUnavailableError(
                mask(f"{self.name}: SMTP {error.smtp_code}: {error.smtp_error!r}")
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            raise DestinationUnavailableError(f"{self.name}: all recipients refused") from error
        except (*_TRANSIENT, OSError) as error:
            raise RetryableError(f"{type(error).__name__}: {mask(error)}") from error
