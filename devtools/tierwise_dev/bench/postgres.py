"""A scratch PostgreSQL database per benchmark run, so every publish starts from an empty table.

The server comes from ``TIERWISE_BENCH_POSTGRES`` (a URL of a database to connect to for
creating others), by default the local server the tests use.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT_S = 3


def admin_url() -> str:
    return os.environ.get("TIERWISE_BENCH_POSTGRES", DEFAULT_ADMIN_URL)


def database_url(name: str) -> str:
    parts = urlsplit(admin_url())
    return urlunsplit(parts._replace(path=f"/{name}"))


def server_version() -> str | None:
    """The server's version, or None when no server answers (the PostgreSQL stages are then skipped)."""
    import psycopg

    try:
        with psycopg.connect(admin_url(), connect_timeout=CONNECT_TIMEOUT_S) as con:
            row = con.execute("show server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def recreate_database(name: str) -> str:
    """Drop and create ``name``; returns its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as con:
        con.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        con.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return database_url(name)


def drop_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as con:
        con.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
