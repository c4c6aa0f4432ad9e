"""Tolerances of the quality gates, read once per run from ``expectations/thresholds.yml``.

The classes mirror the file key by key, so a message's key path is where to look in it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator
from pydantic.dataclasses import dataclass

from tierwise.configfile import CONFIG, Count, Invalid, NonBlank, Number, Section, load

RAW_TABLES = ("orders", "contacts", "tickets")
FORMATS = ("email", "phone")

Share = Annotated[Number, Field(ge=0, le=1)]
NonNegative = Annotated[Number, Field(ge=0)]


def _exactly(*names: str) -> AfterValidator:
    """A mapping with exactly these keys (tables, formats): each is required, no other is known."""

    def check(mapping: dict[str, object]) -> dict[str, object]:
        for name in names:
            if name not in mapping:
                raise Invalid("is required", name)
        for name in mapping:
            if name not in names:
                raise Invalid(f"unknown key; expected one of: {', '.join(names)}", name)
        return mapping

    return AfterValidator(check)


@dataclass(frozen=True, config=CONFIG)
class FormatTolerance(Section):
    warn_mostly: Share
    fail_mostly: Share

    @model_validator(mode="after")
    def _fail_below_warn(self) -> FormatTolerance:
        if self.fail_mostly > self.warn_mostly:
            raise Invalid("must not exceed warn_mostly", "fail_mostly")
        return self


@dataclass(frozen=True, config=CONFIG)
class RawThresholds(Section):
    earliest_date: date
    max_amount: NonNegative
    volume_min_ratio: Share
    max_age_days: Annotated[dict[str, Count], _exactly(*RAW_TABLES)]
    formats: Annotated[dict[str, FormatTolerance], _exactly(*FORMATS)]


@dataclass(frozen=True, config=CONFIG)
class ShareRange(Section):
    min: Share
    max: Share

    @model_validator(mode="after")
    def _ordered(self) -> ShareRange:
        if self.min > self.max:
            raise Invalid("must not exceed max", "min")
        return self


@dataclass(frozen=True, config=CONFIG)
class Revenue(Section):
    abs_tolerance: NonNegative
    staged_net_revenue_sql: NonBlank


@dataclass(frozen=True, config=CONFIG)
class MartsThresholds(Section):
    a_share: ShareRange
    revenue: Revenue


@dataclass(frozen=True, config=CONFIG)
class Thresholds(Section):
    raw: RawThresholds
    marts: MartsThresholds


def load_thresholds(path: Path) -> Thresholds:
    """Parse and check the thresholds file; raise ConfigError naming the file and key."""
    return load(Thresholds, path, "thresholds")
