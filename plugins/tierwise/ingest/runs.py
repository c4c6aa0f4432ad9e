"""One load run of a source: who it is and where its rows go.

Shared by the single-file loader and the multi-file derivation, which both write
through the same raw/quarantine writers and the same manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tierwise.ingest.config import SourceConfig
from tierwise.ingest.manifest import LoadKey
from tierwise.ingest.writes import Target


@dataclass(frozen=True)
class LoadRun:
    config: SourceConfig
    interval: tuple[date, date] | None
    run_id: str
    loaded_at: datetime
    config_hash: str

    @property
    def target(self) -> Target:
        return Target(
            source=self.config.name,
            entity=self.config.schema,
            interval_column=self.config.interval_column,
            interval=self.interval,
            run_id=self.run_id,
            loaded_at=self.loaded_at,
        )

    def key(self, path: str, checksum: str, sliced: bool = False) -> LoadKey:
        return LoadKey(self.config.name, path, checksum, self.config_hash, self.interval if sliced else None)
