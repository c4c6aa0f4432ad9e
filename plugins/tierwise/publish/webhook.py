"""Tier-change notifications to a webhook (Slack-compatible JSON, HMAC-signed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tierwise.masking import mask
from tierwise.publish import notify
from tierwise.publish.config import NotificationConfig
from tierwise.publish.engine import Batch, RecordResult
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.httpjson import JsonHttpClient, json_body

_CONTENT_ERRORS = (400, 413, 422)


class WebhookNotifier:
    """A Destination posting one message per batch of changes."""

    supports_delete = False
    resync_safe = False  # people must not get the same message twice

    def __init__(
        self, client: JsonHttpClient, secret: str | None, config: NotificationConfig, *, target: str
    ):
        self.client = client
        self.secret = secret
        self.batch_size = max(1, min(config.batch_size, notify.MAX_CHANGES_PER_MESSAGE))
        # Keyed by channel, not URL: a rotated webhook URL must not re-notify everyone.
        self.name = "notifications.webhook"
        self.target = target

    def send(self, batch: Batch) -> Sequence[RecordResult]:
        changes = notify.changes_of(batch)
        key = notify.idempotency_key(changes)

        def headers(body: bytes) -> Mapping[str, str]:
            signed = notify.sign(self.secret, body) if self.secret else {}
            return {**signed, notify.IDEMPOTENCY_HEADER: key}

        response = self.client.post("", notify.slack_message(changes), sign=headers)
        if response.is_success:
            return [RecordResult(record.key, ok=True) for record in batch.records]
        message = mask(f"HTTP {response.status_code}: {str(json_body(response))[:300]}")
        if response.status_code in _CONTENT_ERRORS:
            raise BatchRejectedError(message)
        raise DestinationUnavailableError(f"{self.name}: {message}")

    def close(self) -> None:
        self.client.close()
