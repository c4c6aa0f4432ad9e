"""Settings read from the environment: defaults and the messages for bad values."""

from __future__ import annotations

import pytest

from tierwise.exceptions import ConfigError
from tierwise.settings import load_settings


@pytest.mark.parametrize(("value", "seconds"), [(None, 60.0), ("", 60.0), ("0", 0.0), ("2.5", 2.5)])
def test_warehouse_lock_timeout(monkeypatch: pytest.MonkeyPatch, value: str | None, seconds: float) -> None:
    if value is None:
        monkeypatch.delenv("TIERWISE_WAREHOUSE_LOCK_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("TIERWISE_WAREHOUSE_LOCK_TIMEOUT", value)
    assert load_settings().warehouse_lock_timeout == seconds


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_bad_warehouse_lock_timeout_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TIERWISE_WAREHOUSE_LOCK_TIMEOUT", value)
    with pytest.raises(
        ConfigError, match=f"TIERWISE_WAREHOUSE_LOCK_TIMEOUT='{value}': expected a number of seconds >= 0"
    ):
        load_settings()


def test_spark_settings_default_to_a_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIERWISE_ENGINE", "TIERWISE_SPARK_REMOTE", "TIERWISE_SPARK_MASTER", "TIERWISE_SPARK_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIERWISE_ENGINE", "Spark")
    settings = load_settings()
    assert (settings.engine.value, settings.spark_remote) == ("spark", None)
    assert (settings.spark_master, settings.spark_port) == ("local[2]", 15002)


def test_a_spark_remote_must_be_a_connect_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_SPARK_REMOTE", "spark://master:7077")
    with pytest.raises(
        ConfigError, match="TIERWISE_SPARK_REMOTE='spark://master:7077': expected a Spark Connect URL"
    ):
        load_settings()


def test_an_unknown_engine_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_ENGINE", "snowflake")
    with pytest.raises(ConfigError, match="TIERWISE_ENGINE='snowflake' is not one of duckdb, spark"):
        load_settings()
