"""Airflow Assets for the warehouse tables the DAGs produce and consume.

Defined once so producers and consumers name the same asset. Importing this
module only builds small value objects: it is safe at DAG-parse time.
"""

from __future__ import annotations

from airflow.sdk import Asset

from tierwise.schema import ENTITIES

RAW: dict[str, Asset] = {
    source: Asset(name=f"raw.{source}", uri=f"duckdb://tierwise/raw/{source}", group="tierwise")
    for source in ENTITIES
}
MARTS_VALIDATED = Asset(
    name="marts.validated", uri="duckdb://tierwise/marts/customer_tiers", group="tierwise"
)
MARTS_SNAPSHOT = Asset(name="marts.snapshot", uri="file://tierwise/publish/bi/marts.duckdb", group="tierwise")
