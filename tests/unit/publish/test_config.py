from __future__ import annotations

import re
from pathlib import Path

import pytest

from tierwise.exceptions import ConfigError
from tierwise.publish.config import DEFAULT_CRM_PROPERTIES, PublishConfig, config_path, load_publish_config


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
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(str(path))}: crm\.batchsize: unknown key; expected one of: "
    ):
        load_publish_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_attempts: three\n", "max_attempts: must be a whole number, got 'three'"),
        ("max_attempts: '3'\n", "max_attempts: must be a whole number, got '3'"),
        ("crm:\n  include_phone: 'yes'\n", "crm.include_phone: must be true or false, got 'yes'"),
        ("crm:\n  window_seconds: ten\n", "crm.window_seconds: must be a number, got 'ten'"),
        ("database: postgres\n", "database: must be a mapping, got 'postgres'"),
        ("- max_attempts\n", "<top level>: must be a mapping, got a list"),
    ],
)
def test_values_of_the_wrong_type_name_file_key_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "publish.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_publish_config(path)
    assert str(raised.value) == f"{path}: {message}"


def test_the_file_is_found_under_the_home_it_is_given(tmp_path: Path) -> None:
    assert config_path(tmp_path) is None
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "publish.yml").write_text("max_attempts: 7\n")
    assert load_publish_config(home=tmp_path).max_attempts == 7
    assert load_publish_config().max_attempts == 3
