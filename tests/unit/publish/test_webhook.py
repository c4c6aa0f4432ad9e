"""Tier-change messages to a webhook: one signed message per batch, answers mapped to results.

Messages go to the local receiver of tests/fakes/webhook.py, which checks the signature with
its own HMAC code, or to a server that answers one fixed status.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tests.fakes.webhook import FakeWebhook
from tests.unit.publish.changes import change_batch

from tierwise.publish.config import NotificationConfig
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.httpjson import JsonHttpClient
from tierwise.publish.retry import RetryPolicy
from tierwise.publish.webhook import WebhookNotifier


def notifier(url: str, secret: str | None, **config: object) -> WebhookNotifier:
    client = JsonHttpClient(url, policy=RetryPolicy(max_retries=0))
    return WebhookNotifier(client, secret, NotificationConfig(**config), target="fake")  # type: ignore[arg-type]


def test_a_batch_is_one_signed_message_keyed_by_its_changes() -> None:
    with FakeWebhook(secret="s3cret-value") as fake:
        destination = notifier(fake.url, "s3cret-value")
        results = destination.send(change_batch())
        destination.close()
    assert [(result.key, result.ok) for result in results] == [
        ("C1|2024-01-31", True),
        ("C2|2024-01-31", True),
    ]
    [message] = fake.received
    assert message.change_keys() == ["C1|2024-01-31", "C2|2024-01-31"]
    assert message.body["text"] == "Tierwise: 2 tier changes as of 2024-01-31"
    expected_key = hashlib.sha256(b"C1|2024-01-31\nC2|2024-01-31").hexdigest()
    assert message.headers["Idempotency-Key"] == expected_key
    assert fake.bad_signatures == 0


def test_a_wrong_secret_makes_the_channel_unavailable() -> None:
    with FakeWebhook(secret="s3cret-value") as fake:
        destination = notifier(fake.url, "another-value")
        with pytest.raises(DestinationUnavailableError) as caught:
            destination.send(change_batch())
        destination.close()
    assert str(caught.value) == "notifications.webhook: HTTP 401: invalid_signature"
    assert (fake.bad_signatures, fake.received) == (1, [])


@contextmanager
def answering(status: int) -> Iterator[str]:
    """A local server that answers every POST with ``status``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"error": "no such channel"}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_message_refused_for_its_content_is_rejected_for_the_engine_to_split(status: int) -> None:
    rejected = pytest.raises(BatchRejectedError, match=rf"^HTTP {status}: \{{'error': 'no such channel'\}}$")
    with answering(status) as url, rejected:
        notifier(url, None).send(change_batch())


def test_other_refusals_make_the_channel_unavailable() -> None:
    unavailable = pytest.raises(DestinationUnavailableError, match=r"^notifications\.webhook: HTTP 404: ")
    with answering(404) as url, unavailable:
        notifier(url, None).send(change_batch())


def test_messages_hold_at_most_49_changes_and_the_channel_names_the_state() -> None:
    assert notifier("http://127.0.0.1:9", None, batch_size=200).batch_size == 49
    assert notifier("http://127.0.0.1:9", None, batch_size=0).batch_size == 1
    destination = notifier("http://127.0.0.1:9", None)
    assert (destination.name, destination.resync_safe, destination.supports_delete) == (
        "notifications.webhook",
        False,
        False,
    )
