"""Tier-change digests by email: settings from the connection, delivery to a local SMTP server."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator

import pytest
from tests.fakes.smtp import FakeSmtp
from tests.unit.publish.changes import change_batch

from tierwise.publish.config import NotificationConfig
from tierwise.publish.connections import Connection
from tierwise.publish.errors import DestinationUnavailableError
from tierwise.publish.smtp import EmailNotifier, SmtpSettings, smtp_settings

FAST = NotificationConfig(max_retries=1, retry_base_delay=0.0, retry_max_delay=0.0)


def test_settings_default_to_smtps_with_the_configured_sender_and_recipients() -> None:
    connection = Connection("tierwise_smtp", "smtp", host="mail.example", login="bot", password="pw")
    config = NotificationConfig(email_to=("ops@example.com",), timeout_seconds=7.0)
    assert smtp_settings(connection, config) == SmtpSettings(
        host="mail.example",
        port=465,
        login="bot",
        password="pw",
        use_ssl=True,
        use_tls=True,
        timeout=7.0,
        sender="tierwise@localhost",
        recipients=("ops@example.com",),
    )


def test_connection_extras_override_the_settings() -> None:
    extra = {
        "disable_ssl": "true",
        "disable_tls": True,
        "to": "a@example.com, ,b@example.com",
        "from_email": "tiers@example.com",
        "timeout": "3",
    }
    settings = smtp_settings(Connection("tierwise_smtp", "smtp", extra=extra), NotificationConfig())
    assert (settings.host, settings.port, settings.use_ssl, settings.use_tls, settings.timeout) == (
        "localhost",
        25,
        False,
        False,
        3.0,
    )
    assert (settings.sender, settings.recipients) == ("tiers@example.com", ("a@example.com", "b@example.com"))


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as fake:
        yield fake


def plain(
    fake: FakeSmtp, recipients: tuple[str, ...] = ("ops@example.com", "cs@example.com")
) -> SmtpSettings:
    return SmtpSettings(
        "127.0.0.1", fake.port, None, None, False, False, 5.0, "tiers@example.com", recipients
    )


def test_a_batch_is_one_digest_with_a_stable_message_id(smtp: FakeSmtp) -> None:
    results = EmailNotifier(plain(smtp), FAST, target="fake").send(change_batch())
    assert [(result.key, result.ok) for result in results] == [
        ("C1|2024-01-31", True),
        ("C2|2024-01-31", True),
    ]
    [message] = smtp.messages
    assert smtp.envelopes == [("tiers@example.com", ["ops@example.com", "cs@example.com"])]
    assert message["Subject"] == "Tierwise: 2 tier changes as of 2024-01-31"
    assert message["To"] == "ops@example.com, cs@example.com"
    key = hashlib.sha256(b"C1|2024-01-31\nC2|2024-01-31").hexdigest()
    assert message["Message-ID"].strip() == f"<{key}@tierwise>"  # folded: the id is long
    body = message.get_content()
    assert "- C1 silver -> gold (upgrade): spend [C1|2024-01-31]" in body
    assert "- C2 gold -> silver (downgrade) [C2|2024-01-31]" in body


def test_a_temporary_refusal_is_retried(smtp: FakeSmtp) -> None:
    smtp.faults.extend(["451"])
    EmailNotifier(plain(smtp), FAST, target="fake").send(change_batch())
    assert len(smtp.messages) == 1


def test_a_server_that_keeps_dropping_the_connection_makes_the_channel_unavailable(smtp: FakeSmtp) -> None:
    smtp.faults = deque(["drop", "drop"])
    with pytest.raises(DestinationUnavailableError, match=r"^notifications\.email: "):
        EmailNotifier(plain(smtp), FAST, target="fake").send(change_batch())
    assert smtp.messages == []


def test_no_recipients_fails_at_send_time(smtp: FakeSmtp) -> None:
    notifier = EmailNotifier(plain(smtp, recipients=()), FAST, target="fake")
    with pytest.raises(DestinationUnavailableError) as caught:
        notifier.send(change_batch())
    assert str(caught.value) == "notifications.email: no recipients (extra 'to' or email_to)"
    assert smtp.envelopes == []
