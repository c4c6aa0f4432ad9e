"""Airflow connections resolved without importing Airflow.

Connections come from ``AIRFLOW_CONN_<ID>`` environment variables (URI or JSON, the two
formats Airflow accepts), which works in tasks, the CLI and tests alike. Only when the
code already runs inside an Airflow worker (``airflow.sdk`` imported) do we also ask
Airflow, so that connections stored in its database or a secrets backend are found:
importing the SDK just to look costs seconds on every CLI call.

Every credential a connection carries (the password, and any extra field or URL query
parameter named like a credential: token, access_token, api_key, secret, ...) is registered
with the masker the moment the connection is read, before any request can echo it back.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from tierwise.exceptions import ConfigError
from tierwise.masking import get_logger, register_secret, register_secrets

log = get_logger(__name__)

_SCHEME_ALIASES = {"postgresql": "postgres"}


@dataclass(frozen=True)
class Connection:
    conn_id: str
    conn_type: str
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)  # may hold tokens

    def describe(self) -> str:
        """Where the connection points, without credentials (for logs and state keys)."""
        port = f":{self.port}" if self.port else ""
        path = f"/{self.schema}" if self.schema else ""
        host = self.host or ""
        if "://" in host:  # HTTP connections often carry the scheme in the host field
            return f"{_public_url(host).rstrip('/')}{port}{path}"
        return f"{self.conn_type}://{host}{port}{path}"


def _public_url(url: str) -> str:
    """``url`` without user, password, query and fragment: it names streams in ``ops`` tables."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def env_var_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def get_connection(conn_id: str) -> Connection | None:
    """The connection ``conn_id``, or None when it is not configured anywhere we can see."""
    raw = os.environ.get(env_var_name(conn_id), "").strip()
    if raw:
        return parse_connection(conn_id, raw)
    connection = _from_airflow(conn_id)
    if connection is not None:
        register_credentials(connection)
    return connection


def register_credentials(connection: Connection) -> None:
    """Hand every credential of ``connection`` to the masker (see the module docstring)."""
    register_secret(connection.password)
    # Extra holds the URI's query parameters too; a host may be a whole URL with a password.
    register_secrets(connection.extra)
    register_secrets(connection.host)


def parse_connection(conn_id: str, raw: str) -> Connection:
    """A connection from its URI or JSON; its credentials are masked from then on."""
    try:
        connection = _parse_json(conn_id, raw) if raw.startswith("{") else _parse_uri(conn_id, raw)
    except (ValueError, TypeError):
        # The value may hold a password: name the variable, never echo the value.
        raise ConfigError(f"{env_var_name(conn_id)} is not a valid connection URI or JSON") from None
    register_credentials(connection)
    return connection


def _parse_uri(conn_id: str, uri: str) -> Connection:
    parts = urlsplit(uri)
    if not parts.scheme:
        raise ValueError("missing scheme")
    scheme = parts.scheme.replace("-", "_")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    extra: dict[str, Any] = json.loads(query.pop("__extra__")) if "__extra__" in query else query
    return Connection(
        conn_id=conn_id,
        conn_type=_SCHEME_ALIASES.get(scheme, scheme),
        host=unquote(parts.hostname) if parts.hostname else None,
        port=parts.port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=unquote(parts.path.lstrip("/")) or None,
        extra=extra,
    )


def _parse_json(conn_id: str, raw: str) -> Connection:
    data = json.loads(raw)
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    conn_type = str(data.get("conn_type") or "generic").replace("-", "_")
    return Connection(
        conn_id=conn_id,
        conn_type=_SCHEME_ALIASES.get(conn_type, conn_type),
        host=data.get("host"),
        port=int(data["port"]) if data.get("port") else None,
        login=data.get("login"),
        password=data.get("password"),
        schema=data.get("schema"),
        extra=extra,
    )


def _from_airflow(conn_id: str) -> Connection | None:
    if "airflow.sdk" not in sys.modules:
        return None
    try:
        from airflow.sdk import BaseHook

        found = BaseHook.get_connection(conn_id)
    except Exception as error:  # any lookup failure means "not configured" here
        log.debug("connection %s not found in Airflow: %s", conn_id, type(error).__name__)
        return None
    return Connection(
        conn_id=conn_id,
        conn_type=found.conn_type or "generic",
        host=found.host,
        port=found.port,
        login=found.login,
        password=found.password,
        schema=found.schema,
        extra=found.extra_dejson,
    )


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def extra_flag(connection: Connection, key: str, default: bool = False) -> bool:
    return _flag(connection.extra.get(key), default)


def base_url(connection: Connection) -> str:
    """The URL an HTTP connection points at: extra ``base_url``, else scheme://host:port/schema."""
    explicit = connection.extra.get("base_url") or connection.extra.get("url")
    if explicit:
        return str(explicit).rstrip("/")
    host = connection.host or ""
    if "://" in host:
        return host.rstrip("/")
    if not host:
        raise ConfigError(f"connection {connection.conn_id} has no host")
    scheme = str(connection.extra.get("scheme") or ("https" if connection.conn_type == "https" else "http"))
    port = f":{connection.port}" if connection.port else ""
    path = f"/{connection.schema.strip('/')}" if connection.schema else ""
    return f"{scheme}://{host}{port}{path}"


def secret_of(connection: Connection, *keys: str) -> str | None:
    """The connection's password, else the first of ``keys`` found in its extra."""
    if connection.password:
        return connection.password
    for key in keys:
        value = connection.extra.get(key)
        if value:
            return str(value)
    return None
