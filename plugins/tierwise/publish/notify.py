"""Rendering tier changes for people: Slack-compatible messages and email digests.

Messages carry customer ids and tiers, never contact details. A batch of changes becomes
one message; its idempotency key (webhook ``Idempotency-Key``, email ``Message-ID``) is
derived from the revisions it reports, so that a receiver that honours it can drop a
message sent again after a crash between sending and recording it (the engine then sends
the very same batch: see :mod:`tierwise.publish.state`).

A change the channel notified before and a rebuilt evaluation revised comes again as a
correction (its latest content), or as a retraction when it left the mart; each revision
of a change has its own reference (``change_key``, then ``change_key#2``...).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tierwise.publish.engine import Batch

# Slack allows 50 blocks per message; one is the header.
MAX_CHANGES_PER_MESSAGE = 49
SIGNATURE_HEADER = "X-Tierwise-Signature"
TIMESTAMP_HEADER = "X-Tierwise-Request-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CHANGE, CORRECTION, RETRACTION = "change", "correction", "retraction"
_NOUNS = {CHANGE: "tier change", CORRECTION: "correction", RETRACTION: "retraction"}


@dataclass(frozen=True)
class Change:
    change_key: str
    customer_id: str
    as_of_date: str
    from_tier: str
    to_tier: str
    change_type: str
    reason: str
    revision: int = 1
    kind: str = CHANGE

    @property
    def ref(self) -> str:
        """This revision of the change, for receivers that de-duplicate (and for readers)."""
        return self.change_key if self.revision == 1 else f"{self.change_key}#{self.revision}"


def _tier_label(code: Any, name: Any) -> str:
    if code is None:
        return "unrated"
    return f"{name} ({code})" if name and name != code else str(code)


def _kind(row: dict[str, Any]) -> str:
    if not row.get("notified_before"):
        return CHANGE
    return RETRACTION if row.get("retracted") else CORRECTION


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
                revision=int(row.get("revision") or 1),
                kind=_kind(row),
            )
        )
    return changes


def idempotency_key(changes: list[Change]) -> str:
    joined = "\n".join(sorted(change.ref for change in changes))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def title(changes: list[Change]) -> str:
    dates = sorted({change.as_of_date for change in changes})
    counts = Counter(change.kind for change in changes)
    parts = [
        f"{counts[kind]} {_NOUNS[kind]}{'' if counts[kind] == 1 else 's'}" for kind in _NOUNS if counts[kind]
    ]
    return f"Tierwise: {', '.join(parts)} as of {', '.join(dates)}"


def line(change: Change) -> str:
    move = f"{change.customer_id} {change.from_tier} -> {change.to_tier} ({change.change_type})"
    if change.kind == RETRACTION:
        return f"Retracted: {move} as of {change.as_of_date} no longer holds (revision {change.revision})"
    reason = f": {change.reason}" if change.reason else ""
    if change.kind == CORRECTION:
        return f"Corrected (revision {change.revision}): {move}{reason}"
    return move + reason


def slack_message(changes: list[Change]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(changes)[:150]}},
    ]
    for change in changes:
        blocks.append(
            {
                "type": "section",
                # block_id identifies the revision for receivers (and tests) that de-duplicate.
                "block_id": change.ref[:255],
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
    lines += [f"- {line(change)} [{change.ref}]" for change in changes]
    lines += ["", "Sent by Tierwise: each change is reported once, and again when a rebuild revises it."]
    return "\n".join(lines) + "\n"
