"""The run context: everything a stage needs to know about the run, made once and passed on.

The CLI (``tierwise``), each Airflow task (:mod:`tierwise.orchestration`) and the dev tools make
one :class:`RunContext` with :meth:`RunContext.create`, which is the only place the settings are
read from the environment. Every stage, and everything below it, is given the context (or the
settings and engine from it); none reads global settings or writes environment variables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tierwise.engine import Engine, make_engine
from tierwise.settings import Settings, load_settings


@dataclass(frozen=True)
class RunContext:
    """One run: the workspace (settings), its engine, the evaluation date and the run's options."""

    settings: Settings
    engine: Engine
    run_id: str
    as_of_date: date | None = None
    interval: tuple[date, date] | None = None
    """Ingest only files delivered in this interval (start inclusive, end exclusive)."""
    full_refresh: bool = False
    dry_run: bool = False
    gate_override: str | None = None
    """Publish past a marts gate that did not pass, for this reason."""
    dbt_vars: Mapping[str, Any] = field(default_factory=dict)
    """Rules for this run only (dbt vars), over dbt_project.yml's; recorded in the build state."""

    @classmethod
    def create(
        cls,
        run_id: str,
        *,
        settings: Settings | None = None,
        as_of_date: date | None = None,
        interval: tuple[date, date] | None = None,
        full_refresh: bool = False,
        dry_run: bool = False,
        gate_override: str | None = None,
        dbt_vars: Mapping[str, Any] | None = None,
    ) -> RunContext:
        """A context on the given settings, else on those the environment gives now."""
        settings = settings or load_settings()
        return cls(
            settings=settings,
            engine=make_engine(settings),
            run_id=run_id,
            as_of_date=as_of_date,
            interval=interval,
            full_refresh=full_refresh,
            dry_run=dry_run,
            gate_override=gate_override,
            dbt_vars=dict(dbt_vars or {}),
        )

    def describe(self) -> dict[str, Any]:
        """The run's options as JSON-able values (the run summary records them)."""
        return {
            "run_id": self.run_id,
            "engine": self.engine.name.value,
            "warehouse": self.engine.location,
            "as_of_date": self.as_of_date.isoformat() if self.as_of_date else None,
            "interval": [day.isoformat() for day in self.interval] if self.interval else None,
            "full_refresh": self.full_refresh,
            "dry_run": self.dry_run,
            "gate_override": self.gate_override,
            "dbt_vars": json.loads(json.dumps(dict(self.dbt_vars), default=str)),
        }


def workspace() -> Settings:
    """The settings the environment gives now, for a command that runs no stage (building the GX
    project, the dev tools) or one that adds to them before making its context (an Airflow task:
    :func:`tierwise.orchestration.task_settings`)."""
    return load_settings()


def run_id_for(prefix: str, moment: datetime | None = None) -> str:
    return f"{prefix}__{(moment or datetime.now()).strftime('%Y%m%dT%H%M%S')}"
