"""Object storage through DuckDB's httpfs extension, configured from the environment only.

A source config never holds credentials: its ``files.s3`` section names the
environment variables to read (AWS-style names by default). The secret lives
in the DuckDB connection for the run and is never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import duckdb

from tierwise.exceptions import IngestError
from tierwise.ingest.config import S3Options, SourceConfig
from tierwise.ingest.files import is_remote
from tierwise.ingest.sql import ident, literal

_S3_SCHEMES = ("s3://", "s3a://", "s3n://", "r2://", "gcs://", "gs://")


def s3_secret_sql(
    name: str, options: S3Options, env: Mapping[str, str], scope: str | None = None
) -> str | None:
    """``CREATE SECRET`` for the variables that are set, or None when no key is set (public bucket)."""
    key_id, secret = env.get(options.key_id_env), env.get(options.secret_env)
    endpoint = env.get(options.endpoint_env, "")
    if not key_id and not endpoint:
        return None
    use_ssl = options.use_ssl and not endpoint.startswith("http://")
    parts = ["type s3", f"url_style {literal(options.url_style)}", f"use_ssl {str(use_ssl).lower()}"]
    settings = {
        "key_id": key_id,
        "secret": secret,
        "session_token": env.get(options.session_token_env),
        "region": env.get(options.region_env),
        # DuckDB wants host[:port]; the AWS-style variable usually carries the scheme.
        "endpoint": endpoint.split("://", 1)[-1].rstrip("/") or None,
        "scope": scope,
    }
    parts += [f"{key} {literal(value)}" for key, value in settings.items() if value]
    return f"create or replace temporary secret {ident(name)} ({', '.join(parts)})"


def prepare(con: duckdb.DuckDBPyConnection, config: SourceConfig, pattern: str) -> None:
    """Load httpfs and register credentials when the source lives in object storage."""
    if not is_remote(pattern):
        return
    try:
        con.execute("load httpfs")
    except duckdb.Error as error:
        raise IngestError(
            f"{config.origin}: {pattern} needs DuckDB's httpfs extension, which is not installed "
            f"({str(error).splitlines()[0]}); run `install httpfs` once with network access"
        ) from None
    if pattern.lower().startswith(_S3_SCHEMES):
        statement = s3_secret_sql(f"tierwise_{config.name}", config.files.s3, os.environ)
        if statement:
            con.execute(statement)
