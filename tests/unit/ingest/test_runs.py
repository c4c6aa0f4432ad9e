"""A load run: where its rows go and how its files are keyed in the manifest."""

from __future__ import annotations

from datetime import date, datetime

from tierwise.ingest.manifest import LoadKey
from tierwise.ingest.runs import LoadRun
from tierwise.ingest.writes import Target
from tierwise.schema import TICKETS

INTERVAL = (date(2024, 3, 1), date(2024, 3, 2))
LOADED_AT = datetime(2024, 3, 2, 4, 0)


def test_the_target_stamps_rows_with_the_run(make_config) -> None:
    config = make_config(name="helpdesk", entity="tickets", interval_column="opened_at")
    run = LoadRun(config, INTERVAL, "run-7", LOADED_AT, "cfg-hash")
    assert run.target == Target("helpdesk", TICKETS, "opened_at", INTERVAL, "run-7", LOADED_AT)


def test_files_are_keyed_by_content_and_config_and_a_slice_by_the_interval(make_config) -> None:
    run = LoadRun(make_config(name="shop"), INTERVAL, "run-7", LOADED_AT, "cfg-hash")
    assert run.key("/d/orders.csv", "sum") == LoadKey("shop", "/d/orders.csv", "sum", "cfg-hash", None)
    assert run.key("/d/orders.csv", "sum", sliced=True) == LoadKey(
        "shop", "/d/orders.csv", "sum", "cfg-hash", INTERVAL
    )
