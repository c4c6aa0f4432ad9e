"""Personal data out of GX metrics, whichever engine computed them (DuckDB or Spark).

Both of the project's GX execution engines mix in :class:`RedactingMetrics`, which redacts
every metric they resolve, so the unexpected-value samples of a format check never reach GX's
validation results, Data Docs, ``ops.quality_results`` or a log line. Personal data is known by
column (``masking.PERSONAL_COLUMNS``); the row keys (file and line, customer id) stay, so a
failing row can still be found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from tierwise.masking import PERSONAL_COLUMNS, redact_personal

# Metrics whose values are SQL (expressions, query text), not data.
_SQL_METRICS = (".condition", ".aggregate_fn", ".unexpected_index_query")
_DOMAIN_COLUMN_KEYS = ("column", "column_A", "column_B")


def personal_domain_column(domain: Mapping[str, Any]) -> str | None:
    """The personal column a metric's domain is on (the first, for a multi-column domain)."""
    columns = [domain.get(key) for key in _DOMAIN_COLUMN_KEYS] + list(domain.get("column_list") or ())
    return next((str(column) for column in columns if column in PERSONAL_COLUMNS), None)


def redact_metric(value: Any, column: str | None) -> Any:
    """``value`` with personal data replaced: row values under a personal column's name, and
    bare values (unexpected values, value counts) when the domain ``column`` is personal."""
    if isinstance(value, Mapping):
        return {
            key: redact_metric(item, key if key in PERSONAL_COLUMNS else None) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        items = [redact_metric(item, column) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if column is not None and isinstance(value, pd.Series):  # column.value_counts: values in the index
        return value.rename(index=lambda item: redact_personal(column, item))
    return redact_personal(column, value) if column is not None else value


class RedactingMetrics:
    """Mixin, before a GX ``ExecutionEngine`` base: every metric it resolves comes back redacted."""

    def resolve_metrics(
        self,
        metrics_to_resolve: Iterable[Any],
        metrics: dict[Any, Any] | None = None,
        runtime_configuration: dict[str, Any] | None = None,
    ) -> dict[Any, Any]:
        requested = list(metrics_to_resolve)
        engine: Any = super()  # the ExecutionEngine this is mixed into
        resolved: dict[Any, Any] = engine.resolve_metrics(requested, metrics, runtime_configuration)
        for configuration in requested:
            if configuration.id in resolved and not configuration.metric_name.endswith(_SQL_METRICS):
                column = personal_domain_column(configuration.metric_domain_kwargs)
                resolved[configuration.id] = redact_metric(resolved[configuration.id], column)
        return resolved
