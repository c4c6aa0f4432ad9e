"""Tier changes as the notification channels receive them (shared by test_smtp and test_webhook)."""

from __future__ import annotations

from tierwise.publish.engine import Batch, Record

COLUMNS = (
    "change_key",
    "customer_id",
    "as_of_date",
    "from_tier_code",
    "to_tier_code",
    "change_type",
    "reason",
)


def change_batch() -> Batch:
    """Two tier changes of one evaluation."""
    return Batch(
        COLUMNS,
        [
            Record(
                "C1|2024-01-31",
                "h",
                ("C1|2024-01-31", "C1", "2024-01-31", "silver", "gold", "upgrade", "spend"),
            ),
            Record(
                "C2|2024-01-31",
                "h",
                ("C2|2024-01-31", "C2", "2024-01-31", "gold", "silver", "downgrade", None),
            ),
        ],
    )
