from __future__ import annotations

import hashlib

from tierwise.publish.identifiers import is_valid_email, normalise_email, normalise_phone, sha256_hex


def test_email_normalised_then_hashed() -> None:
    assert normalise_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert normalise_email("   ") is None
    assert sha256_hex("jane.doe@example.com") == hashlib.sha256(b"jane.doe@example.com").hexdigest()


def test_email_shape() -> None:
    assert is_valid_email("a@b.co")
    assert not is_valid_email("not-an-email")
    assert not is_valid_email(None)


def test_phone_digits_only() -> None:
    assert normalise_phone("+44 (20) 7946-0123") == "442079460123"
    assert normalise_phone("n/a") is None
