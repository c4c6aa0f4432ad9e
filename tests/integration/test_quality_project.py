"""The committed GX project under expectations/gx is what suites.py builds (ids aside)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tierwise.quality.project import build_project

COMMITTED = Path(__file__).resolve().parents[2] / "expectations" / "gx"


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "data_context_id")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _committed_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.json") if "uncommitted" not in p.parts)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("project"))


def test_committed_json_matches_the_suite_code(built: Path) -> None:
    assert _committed_files(built) == _committed_files(COMMITTED)
    for relative in _committed_files(COMMITTED):
        fresh = json.loads((built / relative).read_text())
        committed = json.loads((COMMITTED / relative).read_text())
        assert _without_ids(fresh) == _without_ids(committed), (
            f"{relative}: run python -m tierwise.quality.project"
        )


def test_committed_config_matches(built: Path) -> None:
    fresh = yaml.safe_load((built / "great_expectations.yml").read_text())
    committed = yaml.safe_load((COMMITTED / "great_expectations.yml").read_text())
    assert _without_ids(fresh) == _without_ids(committed)
    assert committed["analytics_enabled"] is False
    assert committed["progress_bars"] == {"globally": False, "metric_calculations": False}
    datasources = committed["fluent_datasources"]
    assert {name: ds["type"] for name, ds in datasources.items()} == {
        "raw": "tierwise_duckdb",
        "marts": "tierwise_duckdb",
        "raw_spark": "tierwise_spark",
        "marts_spark": "tierwise_spark",
    }


def test_uncommitted_output_is_ignored() -> None:
    ignore = (COMMITTED.parent / ".gitignore").read_text().split()
    assert "gx/uncommitted/" in ignore
