"""Typed settings, read from the environment when a run context is made.

Every path has an embedded default inside the repository so that the demo runs
on a fresh clone with no configuration at all. Only :mod:`tierwise.context` calls
:func:`load_settings`; stages get the settings from the run context they are given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from tierwise.exceptions import ConfigError

_Choice = TypeVar("_Choice", bound=StrEnum)


class PersonalData(StrEnum):
    """What the BI snapshot does with personal columns (e-mail, phone, name)."""

    EXCLUDE = "exclude"  # dropped, as in the published files
    HASH = "hash"  # SHA-256 of the normalised value: countable and joinable, a pseudonym
    INCLUDE = "include"  # kept as they are, for a BI tool trusted with personal data


class EngineName(StrEnum):
    """The warehouse engine a run works on."""

    DUCKDB = "duckdb"
    SPARK = "spark"


def _repo_root() -> Path:
    env = os.environ.get("TIERWISE_HOME")
    if env:
        return Path(env).resolve()
    # plugins/tierwise/settings.py -> repo root is two levels above the package.
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse: Path
    data_dir: Path
    publish_dir: Path
    dbt_project_dir: Path
    expectations_dir: Path
    log_dir: Path
    duckdb_memory_limit: str
    duckdb_threads: int
    dbt_threads: int
    dbt_unit_tests: bool
    build_skip_unchanged: bool
    warehouse_lock_timeout: float
    snapshot_personal_data: PersonalData = PersonalData.EXCLUDE
    engine: EngineName = EngineName.DUCKDB
    publish_config: Path | None = None
    """The publish settings file; without it, ``config/publish.yml`` of the home if there is one."""
    spark_remote: str | None = None
    """A Spark Connect server (``sc://host:port``); without it, a local server Tierwise starts."""
    spark_master: str = "local[2]"
    """The master of the local Spark Connect server (unused with ``spark_remote``)."""
    spark_port: int = 15002
    """The port of the local Spark Connect server."""
    spark_dir: Path | None = None
    """Where the local Spark server keeps its warehouse, metastore and logs."""

    @property
    def dbt_profiles_dir(self) -> Path:
        return self.dbt_project_dir


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).resolve() if value else default


def _optional_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).resolve() if value else None


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def _choice(name: str, kind: type[_Choice], default: _Choice) -> _Choice:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ConfigError(f"{name}={value!r} is not one of {allowed}") from None


def _count(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name}={value!r}: expected a whole number >= 1")
    return int(value)


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ConfigError(f"{name}={value!r}: expected a number of seconds >= 0")
    return seconds


def _spark_remote(value: str) -> str | None:
    if value and not value.startswith("sc://"):
        raise ConfigError(f"TIERWISE_SPARK_REMOTE={value!r}: expected a Spark Connect URL, sc://host:port")
    return value or None


def load_settings() -> Settings:
    """The settings the environment gives now (``TIERWISE_*``), over the embedded defaults."""
    home = _repo_root()
    return Settings(
        home=home,
        warehouse=_path("TIERWISE_WAREHOUSE", home / "warehouse" / "tierwise.duckdb"),
        data_dir=_path("TIERWISE_DATA_DIR", home / "data" / "sample"),
        publish_dir=_path("TIERWISE_PUBLISH_DIR", home / "publish"),
        dbt_project_dir=_path("TIERWISE_DBT_PROJECT_DIR", home / "dbt_project"),
        expectations_dir=_path("TIERWISE_EXPECTATIONS_DIR", home / "expectations"),
        log_dir=_path("TIERWISE_LOG_DIR", home / "logs"),
        duckdb_memory_limit=os.environ.get("TIERWISE_DUCKDB_MEMORY_LIMIT", "3GB"),
        duckdb_threads=_count("TIERWISE_DUCKDB_THREADS", 2),
        dbt_threads=_count("TIERWISE_DBT_THREADS", 2),
        # dbt's advice: unit tests check the SQL, which does not change between runs, so they
        # belong in development and CI (tests/dbt), not in every scheduled build.
        dbt_unit_tests=_flag("TIERWISE_DBT_UNIT_TESTS", False),
        build_skip_unchanged=_flag("TIERWISE_BUILD_SKIP_UNCHANGED", True),
        snapshot_personal_data=_choice("TIERWISE_SNAPSHOT_PERSONAL_DATA", PersonalData, PersonalData.EXCLUDE),
        engine=_choice("TIERWISE_ENGINE", EngineName, EngineName.DUCKDB),
        publish_config=_optional_path("TIERWISE_PUBLISH_CONFIG"),
        spark_remote=_spark_remote(os.environ.get("TIERWISE_SPARK_REMOTE", "").strip()),
        spark_master=os.environ.get("TIERWISE_SPARK_MASTER", "").strip() or "local[2]",
        spark_port=_count("TIERWISE_SPARK_PORT", 15002),
        spark_dir=_path("TIERWISE_SPARK_DIR", home / "warehouse" / "spark"),
        # DuckDB has one writer, or several readers, per file: a stage waits this long for
        # another process (a second run, an analyst's notebook) to let go of the warehouse.
        warehouse_lock_timeout=_seconds("TIERWISE_WAREHOUSE_LOCK_TIMEOUT", 60.0),
    )
