"""Normalising and hashing of customer identifiers sent to external tools.

Matching on hashed identifiers only works when both sides normalise the same way, so
the rules live here once: trim + lowercase for emails, digits only for phones.
"""

from __future__ import annotations

import hashlib
import re

_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


def is_valid_email(value: str | None) -> bool:
    return bool(value) and bool(_EMAIL_SHAPE.match(value or ""))


def normalise_phone(value: object) -> str | None:
    if value is None:
        return None
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return digits or None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
