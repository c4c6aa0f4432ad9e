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
