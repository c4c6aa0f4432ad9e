from __future__ import annotations

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
    assert thresholds.marts.a_share_min < thresholds.marts.a_share_max
    assert thresholds.marts.staged_net_revenue_sql.startswith("select")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"raw.volume_min_ratio": 1.5}, "'raw.volume_min_ratio' = 1.5 is outside"),
        ({"raw.formats.phone.warn_mostly": None}, "missing key 'raw.formats.phone.warn_mostly'"),
        ({"raw.formats.email.fail_mostly": 0.999}, "raw.formats.email.fail_mostly must not exceed"),
        ({"marts.a_share.min": 0.5}, "marts.a_share.min must not exceed"),
        ({"raw.earliest_date": "yesterday"}, "'raw.earliest_date' must be an ISO date"),
        ({"raw.max_amount": "lots"}, "'raw.max_amount' must be a number"),
        ({"marts.revenue.staged_net_revenue_sql": " "}, "must be a non-empty string"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(ConfigError, match=r"thresholds\.yml") as raised:
        load_thresholds(path)
    assert message in str(raised.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read thresholds"):
        load_thresholds(tmp_path / "absent.yml")
