"""Ingestion: load the exports a source config points at into ``raw``, idempotently.

Public API (Airflow tasks, the CLI and tests call only these):

- :func:`ingest_source` loads one source and returns an :class:`IngestReport`;
- :func:`load_source_configs` / :func:`load_source_config` read and validate YAML configs.

See docs/ingestion.md for the config format and the canonical schema.
"""

from tierwise.ingest.config import SourceConfig, load_source_config, load_source_configs, parse_source_config
from tierwise.ingest.loader import ingest_source
from tierwise.ingest.report import FileResult, IngestReport

__all__ = [
    "FileResult",
    "IngestReport",
    "SourceConfig",
    "ingest_source",
    "load_source_config",
    "load_source_configs",
    "parse_source_config",
]
