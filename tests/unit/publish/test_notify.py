from __future__ import annotations

import time

from tierwise.publish import notify
from tierwise.publish.engine import Batch, Record

COLUMNS = (
    "change_key",
    "customer_id",
    "as_of_date",
    "previous_as_of_date",
    "from_tier_code",
    "to_tier_code",
    "change_type",
    "reason",
    "from_tier_name",
    "to_tier_name",
)


def changes() -> list[notify.Change]:
    rows = [
        ("C1|2024-01-31", "C1", "2024-01-31", None, "silver", "gold", "upgrade", "spend", "Silver", "Gold"),
        ("C2|2024-01-31", "C2", "2024-01-31", None, None, "gold", "entry", None, None, "Gold"),
    ]
    return notify.changes_of(Batch(COLUMNS, tuple(Record(row[0], "h", row) for row in rows)))


def test_slack_message_shape() -> None:
    message = notify.slack_message(changes())
    assert message["text"] == "Tierwise: 2 tier changes as of 2024-01-31"
    sections = [block for block in message["blocks"] if block["type"] == "section"]
    assert [block["block_id"] for block in sections] == ["C1|2024-01-31", "C2|2024-01-31"]
    assert sections[0]["text"]["text"] == "C1 Silver (silver) -> Gold (gold) (upgrade): spend"
    assert "unrated -> Gold (gold)" in sections[1]["text"]["text"]


def test_revisions_of_a_notified_change_are_corrections_or_retractions() -> None:
    columns = (*COLUMNS, "revision", "retracted", "notified_before")
    rows = [
        (
            "C1|2024-01-31",
            "C1",
            "2024-01-31",
            None,
            "silver",
            "gold",
            "upgrade",
            "spend",
            None,
            None,
            2,
            False,
            True,
        ),
        (
            "C2|2024-01-31",
            "C2",
            "2024-01-31",
            None,
            "gold",
            "silver",
            "downgrade",
            "",
            None,
            None,
            2,
            True,
            True,
        ),
        ("C3|2024-01-31", "C3", "2024-01-31", None, None, "gold", "entry", "", None, None, 2, False, False),
    ]
    found = notify.changes_of(Batch(columns, tuple(Record(row[0], "h", row) for row in rows)))
    assert [(change.kind, change.ref) for change in found] == [
        (notify.CORRECTION, "C1|2024-01-31#2"),
        (notify.RETRACTION, "C2|2024-01-31#2"),
        (notify.CHANGE, "C3|2024-01-31#2"),  # never notified before: a first message
    ]
    assert notify.line(found[0]) == "Corrected (revision 2): C1 silver -> gold (upgrade): spend"
    assert notify.line(found[1]).startswith("Retracted: C2 gold -> silver (downgrade) as of 2024-01-31")
    assert notify.title(found) == "Tierwise: 1 tier change, 1 correction, 1 retraction as of 2024-01-31"
    # A revision is a new message for a receiver that de-duplicates by key.
    assert notify.idempotency_key(found[:1]) != notify.idempotency_key(changes()[:1])
    assert "[C2|2024-01-31#2]" in notify.email_body(found)


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"text": "x"}'
    headers = notify.sign("s3cret", body)
    assert notify.verify("s3cret", body, headers)
    assert not notify.verify("s3cret", body + b" ", headers)
    assert not notify.verify("other", body, headers)
    stale = notify.sign("s3cret", body, int(time.time()) - 3600)
    assert not notify.verify("s3cret", body, stale)


def test_idempotency_key_ignores_order() -> None:
    first, second = changes()
    assert notify.idempotency_key([first, second]) == notify.idempotency_key([second, first])


def test_email_body_lists_each_change_once() -> None:
    body = notify.email_body(changes())
    assert body.count("[C1|2024-01-31]") == 1 and body.count("[C2|2024-01-31]") == 1
