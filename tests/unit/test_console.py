from __future__ import annotations

from tierwise.console import mask_pii


def test_masks_emails_and_phones() -> None:
    text = "sent to jane.doe+vip@example.co.uk and +44 20 7946 0958 for customer 17850"
    masked = mask_pii(text)
    assert "jane.doe" not in masked and "7946" not in masked
    assert "<email:" in masked and "<phone>" in masked
    assert "17850" in masked  # customer ids are not personal data


def test_leaves_dates_and_amounts_alone() -> None:
    assert mask_pii("as of 2025-12-31, 1,234.50 EUR") == "as of 2025-12-31, 1,234.50 EUR"
