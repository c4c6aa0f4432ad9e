from __future__ import annotations

from pathlib import Path

import pytest

from tierwise.exceptions import ConfigError
from tierwise.publish.config import DEFAULT_CRM_PROPERTIES, PublishConfig, load_publish_config


def test_defaults_without_a_file() -> None:
    config = load_publish_config()
    assert config == PublishConfig()
    assert config.crm.properties == DEFAULT_CRM_PROPERTIES
    assert "as_of_date" not in config.crm.properties.values()


def test_partial_file_overrides(tmp_path: Path) -> None:
    path = tmp_path / "publish.yml"
    path.write_text(
        "max_attempts: 5\nnotifications:\n  change_types: [upgrade]\n  email_to: ops@example.com\n"
        "crm:\n  properties: {tier: tier_code}\ndatabase:\n  sqlite_path: /tmp/x.sqlite\n"
    )
    config = load_publish_config(path)
    assert config.max_attempts == 5
    assert config.notifications.change_types == ("upgrade",)
    assert config.notifications.email_to == ("ops@example.com",)
    assert dict(config.crm.properties) == {"tier": "tier_code"}
    assert config.database.sqlite_path == Path("/tmp/x.sqlite")
    assert config.crm.batch_size == 100


def test_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[3] / "plugins" / "tierwise" / "publish" / "publish.example.yml"
    assert load_publish_config(example).crm.id_property == "email"


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "publish.yml"
    path.write_text("crm:\n  batchsize: 5\n")
    with pytest.raises(ConfigError, match=r"publish.yml:crm: unknown key 'batchsize'"):
        load_publish_config(path)
