"""A scratch PostgreSQL database for the publish tests (started when installed but down)."""

from __future__ import annotations

import contextlib
import glob
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _try_start_cluster() -> None:
    """Start the local cluster when it is installed but down (the dev container's case)."""
    versions = [Path(path).name for path in glob.glob("/etc/postgresql/*")]
    if not versions or shutil.which("pg_ctlcluster") is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "start"],
            check=False,
            timeout=30,
            capture_output=True,
        )


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A new PostgreSQL database for one test module, dropped afterwards; skips if none runs."""
    if not _reachable():
        _try_start_cluster()
        if not _reachable():
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 and could not be started")
    name = f"tierwise_publish_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
