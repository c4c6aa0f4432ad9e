"""Publishing waits for the marts gate: the evaluation in the marts must have passed it.

The marts gate of the evaluation in the marts is the latest marts gate run recorded in
``ops.quality_results`` after the marts were last written. dbt writes them in a build
(``tierwise build``, a DAG's build task), which records in ``ops.build_state`` when it starts
to change them and when it has succeeded; a skipped build writes nothing, so the gate run of
the marts it kept still counts. Then:

* that gate run passed: publish;
* it failed, or could not run: refuse, naming the failed checks;
* no gate ran since the last build (or ever): refuse, saying to run the gate.

An override (``tierwise publish --override-gate REASON``, DAG param ``override_marts_gate``)
publishes anyway. It is loud: a warning in the console and the logs, the publish line says
so, and one row in ``ops.sync_runs`` (destination ``marts_gate``, status ``overridden``) keeps
the reason and the failed checks. A dry run sends nothing: it only warns. A writing dbt
command run by hand records its start in ``ops.build_state`` too (macros/build_state.sql),
so the gate run before it no longer counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from tierwise.build_state import latest_record
from tierwise.console import progress
from tierwise.exceptions import GateNotPassedError
from tierwise.masking import get_logger
from tierwise.publish import state
from tierwise.publish.report import StreamReport
from tierwise.quality.store import GateRun, latest_run

log = get_logger(__name__)

GATE = "marts"
OVERRIDE_DESTINATION = "marts_gate"
OVERRIDDEN = "overridden"
_RERUN = "run `tierwise validate --gate marts`"
_HOW_TO_OVERRIDE = (
    "to publish anyway, give the reason: `tierwise publish --override-gate REASON` "
    "(DAG param override_marts_gate); it is recorded in ops.sync_runs"
)


@dataclass(frozen=True)
class GateVerdict:
    """What the marts gate says about the marts a publish would send."""

    passed: bool
    message: str
    run: GateRun | None = None


def _last_write(con: duckdb.DuckDBPyConnection) -> tuple[datetime, str] | None:
    """When a build last started or finished changing the marts, and its run."""
    latest = latest_record(con)
    return (latest.built_at, latest.run_id) if latest else None


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def verdict(con: duckdb.DuckDBPyConnection) -> GateVerdict:
    """The verdict of the latest marts gate run on the marts as they are now."""
    written = _last_write(con)
    run = latest_run(con, GATE, after=written[0] if written else None)
    if run is None:
        since = f" since they were built (run {written[1]}, {_when(written[0])})" if written else ""
        return GateVerdict(False, f"the marts gate has not run on the marts{since}: {_RERUN} first")
    where = f"gate run {run.run_id}, {_when(run.validated_at)}"
    if run.passed:
        return GateVerdict(True, f"marts gate passed ({where})", run)
    problems = [*run.failed, *(f"{check} could not run" for check in run.errors)]
    text = f"the marts gate did not pass on the marts ({where}): {'; '.join(problems)}"
    return GateVerdict(False, f"{text}. Fix the data or the thresholds, then {_RERUN} again", run)


def require_passed(
    con: duckdb.DuckDBPyConnection, *, run_id: str, override: str | None, dry_run: bool
) -> str | None:
    """Raise unless the marts passed their gate; returns the override note when one was used."""
    found = verdict(con)
    if found.passed:
        log.info("%s", found.message)
        return None
    if dry_run:
        log.warning("dry run: %s; a real publish would refuse", found.message)
        return None
    if not override:
        raise GateNotPassedError(f"publish refused: {found.message}; {_HOW_TO_OVERRIDE}")
    note = f"published past the marts gate, override {override!r}: {found.message}"
    progress("publish", f"WARNING {note}")
    log.warning("%s", note)
    _record_override(con, run_id, note)
    return note


def _record_override(con: duckdb.DuckDBPyConnection, run_id: str, note: str) -> None:
    """One ``ops.sync_runs`` row, written before anything is sent."""
    state.ensure_tables(con)
    attempt = state.start_run(con, run_id, OVERRIDE_DESTINATION)
    report = StreamReport(OVERRIDE_DESTINATION, OVERRIDE_DESTINATION, OVERRIDDEN, error=note)
    state.finish_run(con, run_id, OVERRIDE_DESTINATION, attempt, report)
