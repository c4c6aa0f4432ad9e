"""Where run reports go and what writing one did: shared by the writer and the run summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tierwise.settings import Settings

REPORTS_DIR = "reports"
LATEST_NAME = "latest.html"


@dataclass(frozen=True)
class ReportResult:
    """What writing the report did: where it is, what failed in it, how long and how big."""

    path: Path | None
    latest: Path | None
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
    size_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "latest": str(self.latest) if self.latest else None,
            "errors": list(self.errors),
            "seconds": round(self.seconds, 3),
            "size_bytes": self.size_bytes,
        }


def reports_dir(settings: Settings) -> Path:
    return settings.publish_dir / REPORTS_DIR


def report_path(settings: Settings, as_of_date: date | str) -> Path:
    """``<publish_dir>/reports/run-<as_of_date>.html``: one page per evaluation."""
    return reports_dir(settings) / f"run-{as_of_date}.html"


def latest_path(settings: Settings) -> Path:
    """``<publish_dir>/reports/latest.html``: the last report written, at a path that never changes."""
    return reports_dir(settings) / LATEST_NAME
