"""What a load did, per file and per source, in a form that fits XCom and a log line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

LOADED, UNCHANGED, EMPTY, VANISHED, FAILED = "loaded", "unchanged", "empty", "vanished", "failed"
MOVED, LOOKUP = "moved", "lookup"
"""Same content, config and name as a loaded file that is gone: its rows now point at the new path."""


@dataclass(frozen=True)
class FileResult:
    path: str
    status: str
    """loaded | unchanged (same checksum and config as a load before) | moved | empty | vanished | failed
    | lookup (an input of a multi-file source read for its values; another source accounts for it)."""
    file_date: date | None = None
    checksum: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    new_columns: tuple[str, ...] = ()
    replaced: bool = False
    """An earlier version of this file (or of this slice of it) was replaced."""
    error: str = ""
    """Why a failed file was not loaded (a damaged gzip); nothing of it was written."""


@dataclass(frozen=True)
class IngestReport:
    source: str
    entity: str
    run_id: str
    interval: tuple[date, date] | None
    files_seen: int
    files_loaded: int
    files_skipped: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]
    new_columns: tuple[str, ...]
    elapsed_seconds: float
    files: tuple[FileResult, ...] = ()
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_files(
        cls,
        *,
        source: str,
        entity: str,
        run_id: str,
        interval: tuple[date, date] | None,
        files: tuple[FileResult, ...],
        elapsed_seconds: float,
        warnings: tuple[str, ...] = (),
    ) -> IngestReport:
        reasons: Counter[str] = Counter()
        for result in files:
            reasons.update(result.quarantined_by_reason)
        loaded = sum(1 for f in files if f.status == LOADED)
        lookups = sum(1 for f in files if f.status == LOOKUP)
        # A lookup input's rows belong to another source's accounting, not to this one's.
        owned = tuple(f for f in files if f.status != LOOKUP)
        return cls(
            source=source,
            entity=entity,
            run_id=run_id,
            interval=interval,
            files_seen=len(files),
            files_loaded=loaded,
            files_skipped=len(files) - loaded - lookups,
            rows_read=sum(f.rows_read for f in owned),
            rows_loaded=sum(f.rows_loaded for f in owned),
            rows_quarantined=sum(f.rows_quarantined for f in owned),
            quarantined_by_reason=dict(reasons.most_common()),
            new_columns=tuple(dict.fromkeys(c for f in files for c in f.new_columns)),
            elapsed_seconds=elapsed_seconds,
            files=files,
            warnings=warnings,
        )

    def summary_line(self) -> str:
        """``orders: 3 files (2 loaded, 1 skipped), 1,204 rows read = 1,180 loaded + 24 quarantined``."""
        lookups = self.files_seen - self.files_loaded - self.files_skipped
        read_only = f", {lookups} read as lookups" if lookups else ""
        files = (
            f"{self.files_seen} files ({self.files_loaded} loaded, {self.files_skipped} skipped{read_only})"
        )
        split = f"{self.rows_loaded:,} loaded + {self.rows_quarantined:,} quarantined"
        rows = f"{self.rows_read:,} rows read = {split}"
        line = f"{self.source}: {files}, {rows}"
        reasons = self.quarantined_by_reason
        if reasons:
            top = ", ".join(f"{reason} {count:,}" for reason, count in list(reasons.items())[:4])
            more = f", {len(reasons) - 4} more" if len(reasons) > 4 else ""
            line += f" ({top}{more})"
        if self.new_columns:
            line += f"; new columns: {', '.join(self.new_columns)}"
        if self.warnings:
            line += f"; {len(self.warnings)} warning(s)"
        return line + f" in {self.elapsed_seconds:.1f}s"
