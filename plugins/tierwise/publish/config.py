"""Publishing settings: typed, frozen, read once from an optional YAML file.

Defaults make the demo work with no file at all. A file (``TIERWISE_PUBLISH_CONFIG`` or
``<home>/config/publish.yml``) overrides any subset; ``publish.example.yml`` next to this
module lists every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator
from pydantic.dataclasses import dataclass

from tierwise.configfile import CONFIG, Flag, Number, Section, TextList, Whole, load

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


@dataclass(frozen=True, config=CONFIG)
class DatabaseConfig(Section):
    batch_size: Whole = 50_000
    # Percent of each heap page filled by inserts into the customer_tiers table we create:
    # 50 leaves room for every row to be rewritten in place once per run (HOT updates).
    fillfactor: Whole = 50
    schema: str = "public"
    table: str = "customer_tiers"
    events_table: str = "tier_change_events"
    sqlite_path: Path | None = None
    max_retries: Whole = 3
    retry_base_delay: Number = 0.5
    connect_timeout: Whole = 10


@dataclass(frozen=True, config=CONFIG)
class CrmConfig(Section):
    batch_size: Whole = 100
    object_type: str = "contacts"
    base_url: str | None = None
    id_property: str = "email"
    fallback_id_property: str = "tierwise_customer_id"
    hash_identifiers: Flag = False
    hashed_id_property: str = "tierwise_email_sha256"
    include_phone: Flag = False
    properties: Annotated[Mapping[str, str], AfterValidator(MappingProxyType)] = field(
        default_factory=lambda: DEFAULT_CRM_PROPERTIES
    )
    # HubSpot's smallest published burst limit (per app and account) is 100 per 10 s; stay
    # a little under it, since the server counts arrivals and those jitter.
    requests_per_window: Whole = 90
    window_seconds: Number = 10.0
    timeout_seconds: Number = 30.0
    max_retries: Whole = 5
    retry_base_delay: Number = 0.5
    retry_max_delay: Number = 30.0


@dataclass(frozen=True, config=CONFIG)
class NotificationConfig(Section):
    change_types: TextList = ("upgrade", "downgrade", "entry", "exit")
    # Domain rule: moves between "unrated" and the entry tier are not notified.
    skip_entry_level_moves: Flag = True
    unrated_codes: TextList = ("unrated",)
    entry_tier_code: str | None = None
    # A rebuilt evaluation that changes or removes a change already notified sends a
    # correction or retraction of it (False: only changes never notified are sent).
    corrections: Flag = True
    batch_size: Whole = 20
    email_to: TextList = ()
    email_from: str = "tierwise@localhost"
    timeout_seconds: Number = 10.0
    max_retries: Whole = 4
    retry_base_delay: Number = 0.5
    retry_max_delay: Number = 30.0


@dataclass(frozen=True, config=CONFIG)
class PublishConfig(Section):
    max_attempts: Whole = 3
    files_dir: Path | None = None
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    crm: CrmConfig = field(default_factory=CrmConfig)
    notifications: NotificationConfig = field(default_factory=NotificationConfig)


def config_path(home: Path | None) -> Path | None:
    """``config/publish.yml`` of the workspace ``home``, if there is one."""
    candidate = home / "config" / "publish.yml" if home else None
    return candidate if candidate and candidate.exists() else None


def load_publish_config(path: Path | None = None, *, home: Path | None = None) -> PublishConfig:
    """The settings in ``path`` or found from ``home`` (:func:`config_path`); the defaults without a file."""
    source = path or config_path(home)
    return PublishConfig() if source is None else load(PublishConfig, source, "publish config")
