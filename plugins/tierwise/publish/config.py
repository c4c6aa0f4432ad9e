"""Publishing settings: typed, frozen, read once from an optional YAML file.

Defaults make the demo work with no file at all. A file (``TIERWISE_PUBLISH_CONFIG`` or
``<home>/config/publish.yml``) overrides any subset; ``publish.example.yml`` next to this
module lists every key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs in the dev group

from tierwise.exceptions import ConfigError

# CRM property -> customer_tiers column. as_of_date is left out on purpose: it changes
# every month for every customer and would turn each review into a full re-upload.
DEFAULT_CRM_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {
        "customer_tier": "tier_code",
        "customer_tier_name": "tier_name",
        "customer_value": "measure_value",
        "customer_abc_class": "abc_class",
        "next_tier": "next_tier_code",
        "next_tier_gap": "gap_to_next_tier",
        "tier_eligible": "is_eligible",
    }
)


@dataclass(frozen=True)
class DatabaseConfig:
    batch_size: int = 50_000
    # Percent of each heap page filled by inserts into the customer_tiers table we create:
    # 50 leaves room for every row to be rewritten in place once per run (HOT updates).
    fillfactor: int = 50
    schema: str = "public"
    table: str = "customer_tiers"
    events_table: str = "tier_change_events"
    sqlite_path: Path | None = None
    max_retries: int = 3
    retry_base_delay: float = 0.5
    connect_timeout: int = 10


@dataclass(frozen=True)
class CrmConfig:
    batch_size: int = 100
    object_type: str = "contacts"
    base_url: str | None = None
    id_property: str = "email"
    fallback_id_property: str = "tierwise_customer_id"
    hash_identifiers: bool = False
    hashed_id_property: str = "tierwise_email_sha256"
    include_phone: bool = False
    properties: Mapping[str, str] = field(default_factory=lambda: DEFAULT_CRM_PROPERTIES)
    # HubSpot's smallest published burst limit (per app and account) is 100 per 10 s; stay
    # a little under it, since the server counts arrivals and those jitter.
    requests_per_window: int = 90
    window_seconds: float = 10.0
    timeout_seconds: float = 30.0
    max_retries: int = 5
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0


@dataclass(frozen=True)
class NotificationConfig:
    change_types: tuple[str, ...] = ("upgrade", "downgrade", "entry", "exit")
    # Domain rule: moves between "unrated" and the entry tier are not notified.
    skip_entry_level_moves: bool = True
    unrated_codes: tuple[str, ...] = ("unrated",)
    entry_tier_code: str | None = None
    # A rebuilt evaluation that changes or removes a change already notified sends a
    # correction or retraction of it (False: only changes never notified are sent).
    corrections: bool = True
    batch_size: int = 20
    email_to: tuple[str, ...] = ()
    email_from: str = "tierwise@localhost"
    timeout_seconds: float = 10.0
    max_retries: int = 4
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0


@dataclass(frozen=True)
class PublishConfig:
    max_attempts: int = 3
    files_dir: Path | None = None
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    crm: CrmConfig = field(default_factory=CrmConfig)
    notifications: NotificationConfig = field(default_factory=NotificationConfig)


def config_path(home: Path | None) -> Path | None:
    """$TIERWISE_PUBLISH_CONFIG, else ``config/publish.yml`` of the workspace ``home`` if there is one."""
    env = os.environ.get("TIERWISE_PUBLISH_CONFIG")
    if env:
        return Path(env)
    candidate = home / "config" / "publish.yml" if home else None
    return candidate if candidate and candidate.exists() else None


def load_publish_config(path: Path | None = None, *, home: Path | None = None) -> PublishConfig:
    source = path or config_path(home)
    if source is None:
        return PublishConfig()
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{source}: cannot read publish config: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    config: PublishConfig = _build(PublishConfig, data, f"{source}")
    return config


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        values[key] = _coerce(known[key], value, f"{where}:{key}")
    return cls(**values)


def _coerce(spec: dataclasses.Field[Any], value: Any, where: str) -> Any:
    default = spec.default_factory() if spec.default_factory is not dataclasses.MISSING else spec.default
    if dataclasses.is_dataclass(default):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping")
        return _build(type(default), value, where)
    if isinstance(default, tuple):
        return tuple(value) if isinstance(value, list | tuple) else (value,)
    if isinstance(default, Mapping):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping")
        return MappingProxyType({str(k): str(v) for k, v in value.items()})
    if "Path" in str(spec.type):
        return Path(value) if value is not None else None
    return value
