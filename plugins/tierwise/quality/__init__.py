"""Quality gates: Great Expectations suites run inside DuckDB, or on Spark on the Spark engine.

``run_gate(ctx, "raw" | "marts")`` validates a gate's tables, stores every result in
``ops.quality_results``, renders Data Docs, and raises ``QualityGateError`` when a critical
expectation fails or ``ValidationRunError`` when validation itself could not run.
GX is imported only when a gate runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierwise.quality.report import ExpectationResult, GateReport

if TYPE_CHECKING:
    from tierwise.quality.runner import run_gate

__all__ = ["ExpectationResult", "GateReport", "run_gate"]


def __getattr__(name: str) -> Any:
    # The runner pulls in GX (seconds to import): load it on first use, not with the package.
    if name == "run_gate":
        from tierwise.quality.runner import run_gate

        return run_gate
    raise AttributeError(name)
