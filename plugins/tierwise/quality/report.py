"""What a gate run found: per-expectation results and the gate verdict (no GX imports)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tierwise.exceptions import QualityGateError, ValidationRunError

PASSED, FAILED, WARNED, ERROR = "passed", "failed", "warned", "error"
_SAMPLE_IN_MESSAGE = 3


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation of one suite, as run.

    ``outcome`` is ``passed``; ``failed`` (critical, closes the gate); ``warned`` (failed with
    severity warning or info: logged and stored, not gating); or ``error`` (GX raised: the
    expectation did not run, so it is neither a pass nor a data failure and ``success`` is None).
    """

    suite: str
    check: str
    expectation_type: str
    column: str | None
    severity: str
    outcome: str
    success: bool | None
    observed_value: str | None = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    failing_rows: tuple[dict[str, Any], ...] = ()
    error: str | None = None

    def describe(self) -> str:
        """One line: which check, on what, what was observed, sample failing rows."""
        target = f"{self.suite}.{self.column}" if self.column else self.suite
        if self.outcome == ERROR:
            return f"{self.check} ({self.expectation_type} on {target}) could not run: {self.error}"
        text = f"{self.check} ({self.expectation_type} on {target}): observed {self.observed_value}"
        if self.failing_rows:
            sample = "; ".join(json.dumps(row, default=str) for row in self.failing_rows[:_SAMPLE_IN_MESSAGE])
            text += f", e.g. {sample}"
        return text


@dataclass(frozen=True)
class GateReport:
    """The result of one gate run. ``run_gate`` raises when it did not pass (see raise_for_failures)."""

    gate: str
    run_id: str
    as_of_date: date | None
    validated_at: datetime
    suites: tuple[str, ...]
    results: tuple[ExpectationResult, ...]
    data_docs_path: Path | None
    elapsed: float
    notes: tuple[str, ...] = ()

    def _with(self, outcome: str) -> list[ExpectationResult]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def failures(self) -> list[ExpectationResult]:
        return self._with(FAILED)

    @property
    def warnings(self) -> list[ExpectationResult]:
        return self._with(WARNED)

    @property
    def errors(self) -> list[ExpectationResult]:
        return self._with(ERROR)

    @property
    def passed(self) -> bool:
        return not self.failures and not self.errors

    def headline(self) -> str:
        verdict = "ERROR" if self.errors else "FAILED" if self.failures else "passed"
        return (
            f"{self.gate} gate {verdict}: {len(self.results)} expectations on {len(self.suites)} suites,"
            f" {len(self.failures)} failed, {len(self.warnings)} warnings, {len(self.errors)} errors"
            f" in {self.elapsed:.1f}s"
        )

    def summary_lines(self) -> list[str]:
        """Log lines: the headline, then every error, failure and warning, then notes and docs."""
        lines = [self.headline()]
        lines += [f"  ERROR   {r.describe()}" for r in self.errors]
        lines += [f"  FAILED  {r.describe()}" for r in self.failures]
        lines += [f"  WARNING {r.describe()}" for r in self.warnings]
        lines += [f"  note    {note}" for note in self.notes]
        if self.data_docs_path:
            lines.append(f"  Data Docs: {self.data_docs_path}")
        return lines

    def raise_for_failures(self) -> None:
        """Raise ValidationRunError if anything could not run, else QualityGateError on failures."""
        if self.errors:
            raise ValidationRunError(
                f"{self.gate} gate could not validate (not a data verdict): "
                + " | ".join(r.describe() for r in self.errors)
            )
        if self.failures:
            docs = f" | Data Docs: {self.data_docs_path}" if self.data_docs_path else ""
            raise QualityGateError(
                f"{self.gate} gate closed, {len(self.failures)} failed expectations: "
                + " | ".join(r.describe() for r in self.failures)
                + docs
            )
