"""Masking of personal data and secrets before anything reaches a log or the warehouse.

Destinations echo our own payloads back in error messages (a CRM quotes the rejected
email or the key it refused, a driver quotes the connection string), so every message that
leaves this package for a log line or ``ops.sync_state.last_error`` goes through :func:`mask`.
Secrets are known by value: every credential field of a connection is registered with
:func:`register_secrets` as soon as the connection is read (and handed to Airflow's own secrets
masker when running inside an Airflow task). Personal columns are known by name: their values
are replaced by :func:`redact_personal` wherever sample rows are kept (quality results).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import sys
import threading
from collections.abc import Mapping
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

# Columns holding personal data: never published in tier snapshots, never kept in quality
# results or the BI snapshot (unless its switch says so).
PERSONAL_COLUMNS = frozenset({"email", "phone", "customer_name"})

# Names of fields whose values are credentials (a name matches when it contains one of these):
# Airflow's DEFAULT_SENSITIVE_FIELDS of its secrets masker, plus a few spellings it lacks.
# tests/unit/test_masking.py keeps this a superset of Airflow's list.
SENSITIVE_FIELDS = frozenset(
    {
        "access_key",
        "access_token",
        "api_key",
        "apikey",
        "auth_header",
        "authorization",
        "bearer",
        "connection_string",
        "cookie",
        "credential",
        "dsn",
        "keyfile_dict",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "proxies",
        "proxy",
        "proxy_password",
        "pwd",
        "secret",
        "service_account",
        "service_key",
        "token",
        "webhook_url",
    }
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Candidate phone numbers; _is_phone() keeps only those that look like one, so that dates,
# decimals, durations and row counts in progress lines and gate messages survive.
# Digits inside a path or file name (orders-20240101-123045.csv) are not a phone number.
_PHONE = re.compile(r"(?<![\w./\-])\+?\(?\d[\d\s().\-/]{6,}\d(?![\w\-/]|\.\w)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# One dot between two digit runs, not part of a longer dotted chain (06.12.34.56.78 is a phone).
_DECIMAL = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_URI_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][\w+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s]+)(?P<tail>@)")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)(\S+)")
# key=value, key: value and "key": "value" for any key naming a credential (access_token, ...).
_KEY_VALUE = re.compile(
    r"(?i)(\b[\w-]*(?:token|secret|password|passwd|pwd|api[_-]?key|access[_-]?key|private[_-]?key|credential)"
    r"[\w-]*[\"']?\s*[=:]\s*[\"']?)([^\s\"'&,;}]+)"
)

# One salt per process: masked values stay correlatable within a run's logs but the short
# digest cannot be looked up against a list of known addresses.
_SALT = secrets.token_bytes(16)
_MIN_PHONE_DIGITS = 9
_MAX_PHONE_DIGITS = 15  # E.164
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()
_lock = threading.Lock()


def is_sensitive_field(name: object) -> bool:
    """Whether a connection field or extra key of this name holds a credential."""
    normalised = re.sub(r"\W+", "_", str(name).strip().lower())
    return any(field in normalised for field in SENSITIVE_FIELDS)


def _forms(value: str) -> set[str]:
    # Echoed bodies and URLs carry a secret escaped: percent-encoded, or inside a JSON string.
    return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}


def _tell_airflow(value: str) -> None:
    # Inside an Airflow task, its own masker covers the task log and the supervisor's output.
    # Importing Airflow only to look costs seconds on every CLI call, so only if already loaded.
    if "airflow.sdk" in sys.modules:
        with suppress(Exception):
            from airflow.sdk.log import mask_secret

            mask_secret(value)


def register_secret(value: object) -> None:
    """Remember a secret (token, password) so that :func:`mask` removes it verbatim."""
    if value is None or isinstance(value, bool | Mapping | list | tuple):
        return
    text = str(value)
    if len(text) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.update(form for form in _forms(text) if len(form) >= _MIN_SECRET_LENGTH)
    _tell_airflow(text)


def _register_url_secrets(text: str) -> None:
    """The password and credential query parameters of a URL held in a non-secret field."""
    with suppress(ValueError):
        parts = urlsplit(text)
        if not parts.scheme or not parts.netloc:
            return
        register_secret(parts.password)
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if is_sensitive_field(key):
                register_secret(value)


def register_secrets(values: object, *, sensitive: bool = False) -> None:
    """Register every credential found in ``values`` (a connection's extra, say), recursively.

    Values under a sensitive key (see :func:`is_sensitive_field`) are secrets whatever their
    shape; elsewhere, URLs are searched for passwords and credential query parameters.
    """
    if isinstance(values, Mapping):
        for key, value in values.items():
            register_secrets(value, sensitive=sensitive or is_sensitive_field(key))
    elif isinstance(values, list | tuple):
        for value in values:
            register_secrets(value, sensitive=sensitive)
    elif sensitive:
        register_secret(values)
    elif isinstance(values, str):
        _register_url_secrets(values)


def _digest(text: str) -> str:
    return hashlib.sha256(_SALT + text.lower().encode()).hexdigest()[:8]


def _email(match: re.Match[str]) -> str:
    return f"<email:{_digest(match.group(0))}>"


def _is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS or _ISO_DATE.match(text.lstrip("+(")):
        return False
    return not _DECIMAL.search(text) and not _IPV4.fullmatch(text)


def _phone(match: re.Match[str]) -> str:
    return "<phone>" if _is_phone(match.group(0)) else match.group(0)


def mask(text: object) -> str:
    """Return ``text`` with emails, phone numbers, URI passwords and known secrets hidden."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        out = out.replace(value, "***")
    out = _URI_PASSWORD.sub(r"\g<head>***\g<tail>", out)
    out = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", out)
    out = _KEY_VALUE.sub(lambda m: f"{m.group(1)}***", out)
    out = _EMAIL.sub(_email, out)
    return _PHONE.sub(_phone, out)


_TOKEN = re.compile(r"<[A-Za-z_]+:[0-9a-f]+>")


def redact_personal(column: str, value: Any) -> Any:
    """A personal column's value replaced by ``<column:digest>`` (None and numbers kept as is).

    Malformed values (the ones quality checks report) match no e-mail or phone pattern, so
    personal data is recognised by its column, not its shape. Equal values get equal tokens
    within a run, so sample counts still add up.
    """
    if not isinstance(value, str) or _TOKEN.fullmatch(value):
        return value  # a token already: redacting it again would give the same value two tokens
    return f"<{column}:{_digest(value)}>"


def redact_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A row (column -> value) with the values of personal columns redacted."""
    return {
        key: redact_personal(key, value) if key in PERSONAL_COLUMNS else value
        for key, value in record.items()
    }


class MaskingFilter(logging.Filter):
    """Logging filter that masks the rendered message and any traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def get_logger(name: str) -> logging.Logger:
    """A module logger whose records are masked before any handler sees them.

    A standard ``logging.Logger`` whatever class another library left set (pyspark may leave
    its JSON logger class, which writes to its own handler).
    """
    if logging.getLoggerClass() is not logging.Logger:
        logging.setLoggerClass(logging.Logger)
    logger = logging.getLogger(name)
    if not any(isinstance(existing, MaskingFilter) for existing in logger.filters):
        logger.addFilter(MaskingFilter())
    return logger
