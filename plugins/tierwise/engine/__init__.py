"""The warehouse engine seam: how every stage reaches the warehouse (see :mod:`.base`)."""

from __future__ import annotations

from tierwise.engine.base import (
    Connection,
    Engine,
    WarehouseBusyError,
    column_names,
    fetch_all,
    list_tables,
    table_exists,
    transaction,
)
from tierwise.settings import EngineName, Settings

__all__ = [
    "Connection",
    "Engine",
    "EngineName",
    "WarehouseBusyError",
    "column_names",
    "fetch_all",
    "list_tables",
    "make_engine",
    "table_exists",
    "transaction",
]


def make_engine(settings: Settings) -> Engine:
    """The engine the settings name (``TIERWISE_ENGINE``)."""
    if settings.engine is EngineName.SPARK:
        from tierwise.engine.spark import SparkEngine

        return SparkEngine(settings)
    from tierwise.engine.duckdb import DuckDBEngine

    return DuckDBEngine(settings)
