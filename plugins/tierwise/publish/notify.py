"""Rendering tier changes for people: Slack-compatible messages and email digests.

Messages carry customer ids and tiers, never contact details. A batch of changes becomes
one message; its idempotency key is derived from the change keys so that a receiver can
drop a message we resend after a crash between sending and recording it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from tierwise.publish.engine import Batch

# Slack allows 50 blocks per message; one is the header.
MAX_CHANGES_PER_MESSAGE = 49
SIGNATURE_HEADER = "X-Tierwise-Signature"
TIMESTAMP_HEADER = "X-Tierwise-Request-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Change:
    change_key: str
    customer_id: str
    as_of_date: str
    from_tier: str
    to_tier: str
    change_type: str
    reason: str


def _tier_label(code: Any, name: Any) -> str:
    if code is None:
        return "unrated"
    return f"{name} ({code})" if name and name != code else str(code)


def changes_of(batch: Batch) -> list[Change]:
    changes = []
    for record in batch.upserts():
        row = batch.as_dict(record)
        changes.append(
            Change(
                change_key=str(row["change_key"]),
                customer_id=str(row["customer_id"]),
                as_of_date=str(row["as_of_date"]),
                from_tier=_tier_label(row.get("from_tier_code"), row.get("from_tier_name")),
                to_tier=_tier_label(row.get("to_tier_code"), row.get("to_tier_name")),
                change_type=str(row.get("change_type") or ""),
                reason=str(row.get("reason") or ""),
            )
        )
    return changes


def idempotency_key(changes: list[Change]) -> str:
    joined = "\n".join(sorted(change.change_key for change in changes))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def title(changes: list[Change]) -> str:
    dates = sorted({change.as_of_date for change in changes})
    noun = "change" if len(changes) == 1 else "changes"
    return f"Tierwise: {len(changes)} tier {noun} as of {', '.join(dates)}"


def line(change: Change) -> str:
    reason = f": {change.reason}" if change.reason else ""
    return f"{change.customer_id} {change.from_tier} -> {change.to_tier} ({change.change_type}){reason}"


def slack_message(changes: list[Change]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(changes)[:150]}},
    ]
    for change in changes:
        blocks.append(
            {
                "type": "section",
                # block_id identifies the change for receivers (and tests) that de-duplicate.
                "block_id": change.change_key[:255],
                "text": {"type": "mrkdwn", "text": line(change)[:3000]},
            }
        )
    return {"text": title(changes), "blocks": blocks}


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """HMAC-SHA256 over ``v0:<timestamp>:<body>`` (the scheme Slack uses for its own requests)."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(
        secret.encode("utf-8"), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"v0={digest}"}


def verify(secret: str, body: bytes, headers: dict[str, str], *, max_age: float = 300.0) -> bool:
    """Receiver side of :func:`sign`: right signature and a timestamp no older than ``max_age``."""
    stamp = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > max_age:
        return False
    expected = sign(secret, body, int(stamp))[SIGNATURE_HEADER]
    return hmac.compare_digest(expected, given)


def email_body(changes: list[Change]) -> str:
    lines = [title(changes), ""]
    lines += [f"- {line(change)} [{change.change_key}]" for change in changes]
    lines += ["", "Sent by Tierwise; each change is reported once."]
    return "\n".join(lines) + "\n"
