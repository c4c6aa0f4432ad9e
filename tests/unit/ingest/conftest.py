"""Shared builders for the ingestion unit tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tierwise.ingest.config import SourceConfig, parse_source_config


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


MINIMAL: dict[str, Any] = {"entity": "orders", "files": {"pattern": "orders/orders_*.csv"}}


@pytest.fixture
def make_config() -> Callable[..., SourceConfig]:
    """A validated config from MINIMAL plus overrides (nested dicts are merged)."""

    def build(**overrides: Any) -> SourceConfig:
        return parse_source_config(_merge(MINIMAL, overrides), origin="test.yml", default_name="test")

    return build


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config file (MINIMAL plus overrides) and return its path."""

    def write(filename: str = "orders.yml", **overrides: Any) -> Path:
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(_merge(MINIMAL, overrides)), encoding="utf-8")
        return path

    return write
