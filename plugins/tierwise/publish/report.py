"""What a publish call did, per destination stream: counts, files, timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tierwise.publish.fielddiff import RecordDiff


@dataclass(frozen=True)
class StreamReport:
    """One destination stream (e.g. ``database`` has customer tiers and change events)."""

    destination: str
    stream: str
    status: str  # ok, failed, dry_run
    total: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    retried: int = 0
    deleted: int = 0
    sent: int = 0
    rejected: int = 0
    abandoned: int = 0
    applied: int | None = None  # rows the destination actually changed (tables); files written (files)
    elapsed: float = 0.0
    error: str | None = None
    paths: tuple[Path, ...] = ()
    diff: tuple[tuple[str, str], ...] = ()  # (change kind, record key), dry runs only
    fields: tuple[RecordDiff, ...] = ()  # a sample of diff with the fields that change, dry runs only

    @property
    def to_send(self) -> int:
        return self.new + self.changed + self.retried + self.deleted

    def _files_line(self) -> str:
        dry = self.status == "dry_run"
        if self.applied == 0:
            verb = "would keep" if dry else "kept"
            return f"{self.stream}: {self.total} rows unchanged, {verb} {len(self.paths)} files as they are"
        verb = "would write" if dry else "wrote"
        rows = f"{self.total} rows: {self.new} new, {self.changed} changed, {self.deleted} removed"
        return f"{self.stream}: {verb} {len(self.paths)} files ({rows}) in {self.elapsed:.1f}s"

    def diff_lines(self) -> list[str]:
        """A dry run's sample: each record with the fields that would change, else kind and key."""
        if self.fields:
            return [f"  {self.stream} {record.line()}" for record in self.fields]
        return [f"  {self.stream} {kind} {key}" for kind, key in self.diff]

    def summary_line(self) -> str:
        if self.paths:
            return self._files_line()
        head = f"{self.stream}: {self.total} rows, {self.new} new, {self.changed} changed, "
        head += f"{self.unchanged} unchanged"
        if self.deleted:
            head += f", {self.deleted} removed"
        if self.status == "dry_run":
            return head + f"; dry run: would send {self.to_send} ({self.retried} retries)"
        tail = f"; sent {self.sent}, rejected {self.rejected}"
        if self.abandoned:
            tail += f" ({self.abandoned} abandoned)"
        if self.applied is not None:
            tail += f", {self.applied} rows changed there"
        tail += f" in {self.elapsed:.1f}s"
        if self.error:
            tail += f"; FAILED: {self.error}"
        return head + tail


@dataclass(frozen=True)
class PublishReport:
    run_id: str
    as_of_date: date
    dry_run: bool
    streams: tuple[StreamReport, ...] = ()
    skipped: tuple[str, ...] = field(default=())
    elapsed: float = 0.0
    gate_override: str | None = None  # set when published past a marts gate that did not pass

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(path for stream in self.streams for path in stream.paths)

    @property
    def failed(self) -> tuple[StreamReport, ...]:
        return tuple(stream for stream in self.streams if stream.status == "failed")

    def for_destination(self, destination: str) -> tuple[StreamReport, ...]:
        return tuple(stream for stream in self.streams if stream.destination == destination)

    def headline(self) -> str:
        """One line for the console: per stream, what was sent out of what changed."""
        parts = [
            f"{stream.stream} {stream.sent:,} sent/{stream.new + stream.changed:,} changed"
            + (f"/{stream.rejected:,} rejected" if stream.rejected else "")
            for stream in self.streams
        ]
        if not parts:  # every destination asked for was skipped (not configured, say): say why
            parts = [f"nothing sent: skipped {reason}" for reason in self.skipped] or ["nothing to send"]
        mode = " (dry run)" if self.dry_run else ""
        override = "GATE OVERRIDDEN, " if self.gate_override else ""
        return f"{override}as of {self.as_of_date}{mode}: " + "; ".join(parts) + f" in {self.elapsed:.1f}s"

    def summary_lines(self) -> list[str]:
        mode = " (dry run)" if self.dry_run else ""
        lines = [f"publish {self.as_of_date}{mode}: {len(self.streams)} streams in {self.elapsed:.1f}s"]
        lines += [stream.summary_line() for stream in self.streams]
        lines += [f"skipped {reason}" for reason in self.skipped]
        lines += [f"WARNING {self.gate_override}"] if self.gate_override else []
        if self.dry_run:
            lines += [line for stream in self.streams for line in stream.diff_lines()]
        return lines
