from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from tierwise.exceptions import ConfigError
from tierwise.quality.thresholds import load_thresholds

COMMITTED = Path(__file__).resolve().parents[3] / "expectations" / "thresholds.yml"


def _write(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load(COMMITTED.read_text())
    for dotted, value in change.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    path = tmp_path / "thresholds.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_committed_thresholds_load() -> None:
    thresholds = load_thresholds(COMMITTED)
    assert thresholds.raw.earliest_date == date(2000, 1, 1)
    assert set(thresholds.raw.max_age_days) == {"orders", "contacts", "tickets"}
    email = thresholds.raw.formats["email"]
    assert 0 < email.fail_mostly <= email.warn_mostly <= 1
    assert thresholds.marts.a_share.min < thresholds.marts.a_share.max
    assert thresholds.marts.revenue.staged_net_revenue_sql.startswith("select")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"raw.volume_min_ratio": 1.5}, "raw.volume_min_ratio: must be a number <= 1.0, got 1.5"),
        ({"raw.formats.phone.warn_mostly": None}, "raw.formats.phone.warn_mostly: is required"),
        (
            {"raw.formats.email.fail_mostly": 0.999},
            "raw.formats.email.fail_mostly: must not exceed warn_mostly",
        ),
        ({"marts.a_share.min": 0.5}, "marts.a_share.min: must not exceed max"),
        (
            {"raw.earliest_date": "yesterday"},
            "raw.earliest_date: must be an ISO date (YYYY-MM-DD), got 'yesterday'",
        ),
        ({"raw.max_amount": "lots"}, "raw.max_amount: must be a number, got 'lots'"),
        ({"raw.max_amount": True}, "raw.max_amount: must be a number, got True"),
        ({"raw.max_age_days.orders": 2.5}, "raw.max_age_days.orders: must be a whole number, got 2.5"),
        ({"raw.max_age_days.tickets": None}, "raw.max_age_days.tickets: is required"),
        (
            {"marts.revenue.staged_net_revenue_sql": " "},
            "marts.revenue.staged_net_revenue_sql: must not be empty",
        ),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(ConfigError) as raised:
        load_thresholds(path)
    assert str(raised.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"raw.volume_min_ratoi": 0.9}, "raw.volume_min_ratoi"),
        ({"raw.max_age_days.invoices": 3}, "raw.max_age_days.invoices"),
        ({"marts.a_share.mean": 0.1}, "marts.a_share.mean"),
    ],
)
def test_unknown_keys_are_named(tmp_path: Path, change: dict[str, object], key: str) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(ConfigError, match=rf"^{re.escape(f'{path}: {key}: unknown key; expected one of: ')}"):
        load_thresholds(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read thresholds"):
        load_thresholds(tmp_path / "absent.yml")
