"""Masking of personal data and secrets before anything reaches a log or the warehouse.

Destinations echo our own payloads back in error messages (a CRM quotes the rejected
email, a driver quotes the connection string), so every message that leaves this package
for a log line or ``ops.sync_state.last_error`` goes through :func:`mask`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Candidate phone numbers; _phone() keeps only those with enough digits so that dates,
# durations and row counts in progress lines survive.
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().\-/]{6,}\d(?![\w])")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_URI_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][\w+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s]+)(?P<tail>@)")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)(\S+)")
_KEY_VALUE = re.compile(r"(?i)\b(token|secret|password|passwd|pwd|api[_-]?key)(\s*[=:]\s*)(\S+)")

# One salt per process: masked emails stay correlatable within a run's logs but the
# short digest cannot be looked up against a list of known addresses.
_SALT = secrets.token_bytes(16)
_MIN_PHONE_DIGITS = 9
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret (token, password) so that :func:`mask` removes it verbatim."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def _email(match: re.Match[str]) -> str:
    digest = hashlib.sha256(_SALT + match.group(0).lower().encode()).hexdigest()[:8]
    return f"<email:{digest}>"


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < _MIN_PHONE_DIGITS or _ISO_DATE.match(text.lstrip("+(")):
        return text
    return "<phone>"


def mask(text: object) -> str:
    """Return ``text`` with emails, phone numbers, URI passwords and known secrets hidden."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        out = out.replace(value, "***")
    out = _URI_PASSWORD.sub(r"\g<head>***\g<tail>", out)
    out = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", out)
    out = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", out)
    out = _EMAIL.sub(_email, out)
    return _PHONE.sub(_phone, out)


class MaskingFilter(logging.Filter):
    """Logging filter that masks the rendered message and any traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def get_logger(name: str) -> logging.Logger:
    """A module logger whose records are masked before any handler sees them."""
    logger = logging.getLogger(name)
    if not any(isinstance(existing, MaskingFilter) for existing in logger.filters):
        logger.addFilter(MaskingFilter())
    return logger
