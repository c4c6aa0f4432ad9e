"""Tolerances of the quality gates, read once per run from ``expectations/thresholds.yml``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs in the dev group

from tierwise.exceptions import ConfigError

RAW_TABLES = ("orders", "contacts", "tickets")
FORMATS = ("email", "phone")


@dataclass(frozen=True)
class FormatTolerance:
    warn_mostly: float
    fail_mostly: float


@dataclass(frozen=True)
class RawThresholds:
    earliest_date: date
    max_amount: float
    volume_min_ratio: float
    max_age_days: dict[str, int]
    formats: dict[str, FormatTolerance]


@dataclass(frozen=True)
class MartsThresholds:
    a_share_min: float
    a_share_max: float
    revenue_abs_tolerance: float
    staged_net_revenue_sql: str


@dataclass(frozen=True)
class Thresholds:
    raw: RawThresholds
    marts: MartsThresholds


class _Reader:
    """Typed look-ups into the parsed YAML; every error names the file and the key."""

    def __init__(self, path: Path, data: Any) -> None:
        self.path = path
        self.data = data

    def get(self, dotted: str) -> Any:
        node = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"{self.path}: missing key {dotted!r}")
            node = node[part]
        return node

    def number(self, dotted: str, low: float | None = None, high: float | None = None) -> float:
        value = self.get(dotted)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.path}: {dotted!r} must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{self.path}: {dotted!r} = {value} is outside [{low}, {high}]")
        return float(value)

    def share(self, dotted: str) -> float:
        return self.number(dotted, 0.0, 1.0)

    def text(self, dotted: str) -> str:
        value = self.get(dotted)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.path}: {dotted!r} must be a non-empty string")
        return value.strip()

    def day(self, dotted: str) -> date:
        value = self.get(dotted)
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError as error:
            raise ConfigError(f"{self.path}: {dotted!r} must be an ISO date, got {value!r}") from error


def _format_tolerance(reader: _Reader, name: str) -> FormatTolerance:
    key = f"raw.formats.{name}"
    tolerance = FormatTolerance(reader.share(f"{key}.warn_mostly"), reader.share(f"{key}.fail_mostly"))
    if tolerance.fail_mostly > tolerance.warn_mostly:
        raise ConfigError(f"{reader.path}: {key}.fail_mostly must not exceed warn_mostly")
    return tolerance


def _raw(reader: _Reader) -> RawThresholds:
    return RawThresholds(
        earliest_date=reader.day("raw.earliest_date"),
        max_amount=reader.number("raw.max_amount", low=0),
        volume_min_ratio=reader.share("raw.volume_min_ratio"),
        max_age_days={t: int(reader.number(f"raw.max_age_days.{t}", low=0)) for t in RAW_TABLES},
        formats={name: _format_tolerance(reader, name) for name in FORMATS},
    )


def _marts(reader: _Reader) -> MartsThresholds:
    low, high = reader.share("marts.a_share.min"), reader.share("marts.a_share.max")
    if low > high:
        raise ConfigError(f"{reader.path}: marts.a_share.min must not exceed marts.a_share.max")
    return MartsThresholds(
        a_share_min=low,
        a_share_max=high,
        revenue_abs_tolerance=reader.number("marts.revenue.abs_tolerance", low=0),
        staged_net_revenue_sql=reader.text("marts.revenue.staged_net_revenue_sql"),
    )


def load_thresholds(path: Path) -> Thresholds:
    """Parse and check the thresholds file; raise ConfigError naming the file and key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read thresholds: {error}") from error
    reader = _Reader(path, data)
    return Thresholds(raw=_raw(reader), marts=_marts(reader))
