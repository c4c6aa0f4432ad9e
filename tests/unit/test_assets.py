"""One Airflow Asset per raw table and the validated marts: producers and consumers name the same."""

from __future__ import annotations

from tierwise.assets import MARTS_SNAPSHOT, MARTS_VALIDATED, RAW
from tierwise.schema import ENTITIES


def test_one_raw_asset_per_entity() -> None:
    assert list(RAW) == list(ENTITIES)
    assert [asset.uri for asset in RAW.values()] == [f"duckdb://tierwise/raw/{name}" for name in ENTITIES]


def test_the_marts_assets_are_distinct() -> None:
    names = {MARTS_VALIDATED.name, MARTS_SNAPSHOT.name, *(asset.name for asset in RAW.values())}
    assert len(names) == len(RAW) + 2
