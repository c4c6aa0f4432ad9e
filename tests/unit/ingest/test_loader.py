"""The loader's own decisions: the interval, which files share a read, what counts as a new column.

Loading files end to end is tested in tests/integration/test_ingest_load.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from tests.support import engine_at

from tierwise.exceptions import IngestError
from tierwise.ingest import ingest_source, loader
from tierwise.ingest.config import SourceConfig
from tierwise.ingest.files import FileStat, SourceFile
from tierwise.ingest.report import FAILED, LOADED, FileResult, IngestReport


def candidate(name: str, columns: tuple[str, ...] | None, size: int) -> loader._Candidate:
    return loader._Candidate(SourceFile(f"/d/{name}.csv", None), FileStat(size, name), columns, False, False)


def test_an_empty_interval_is_refused_before_the_warehouse_is_opened(
    tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    day = date(2024, 1, 2)
    engine = engine_at(tmp_path / "w.duckdb")
    with pytest.raises(IngestError) as caught:
        ingest_source(make_config(), engine=engine, data_dir=tmp_path, interval=(day, day), run_id="r")
    assert str(caught.value) == (
        "data interval 2024-01-02 .. 2024-01-02 is empty: the end is exclusive, so one day is (day, day + 1)"
    )
    assert not engine.exists()


def test_dated_files_outside_the_interval_are_left_for_their_own_run() -> None:
    interval = (date(2024, 1, 2), date(2024, 1, 3))
    assert loader._in_interval(SourceFile("a", date(2024, 1, 2)), interval)
    assert not loader._in_interval(SourceFile("a", date(2024, 1, 3)), interval)
    assert not loader._in_interval(SourceFile("a", date(2024, 1, 1)), interval)
    assert loader._in_interval(SourceFile("a", None), interval)  # sliced by its rows instead
    assert loader._in_interval(SourceFile("a", date(2020, 1, 1)), None)


def test_consecutive_files_with_the_same_columns_share_a_read_up_to_the_byte_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = [
        candidate("a", ("x",), 100),
        candidate("b", ("x",), 100),
        candidate("c", ("y",), 10),
        candidate("empty", None, 0),
        candidate("d", ("y",), 10),
        candidate("e", ("y",), 10),
    ]
    names = [[c.stat.checksum for c in batch] for batch in loader._batches(files)]
    assert names == [["a", "b"], ["c"], ["empty"], ["d", "e"]]
    monkeypatch.setattr(loader, "BATCH_BYTES", 150)
    names = [[c.stat.checksum for c in batch] for batch in loader._batches(files)]
    assert names == [["a"], ["b"], ["c"], ["empty"], ["d", "e"]]


def test_new_columns_are_the_ones_nothing_reads(make_config: Callable[..., SourceConfig]) -> None:
    config = make_config(mapping={"gross_amount": "Qty * Price"}, ignore_columns=["Internal"])
    columns = ("order_id", "QTY", "price", "internal", "Channel", "Status", "coupon")
    assert loader._new_columns(config, columns) == ("Channel", "coupon")


def test_damaged_files_fail_the_run_after_the_others_were_loaded() -> None:
    files = (
        FileResult("/d/a.csv", LOADED, rows_read=2, rows_loaded=2),
        FileResult("/d/b.csv.gz", FAILED, error="/d/b.csv.gz: the gzip data is damaged"),
    )

    def report_of(*results: FileResult) -> IngestReport:
        return IngestReport.from_files(
            source="shop", entity="orders", run_id="r", interval=None, files=results, elapsed_seconds=0.5
        )

    report = report_of(*files)
    with pytest.raises(IngestError) as caught:
        loader._fail_on_damaged(report)
    assert str(caught.value) == (
        "shop: 1 damaged file(s) not loaded, the others were (shop: 2 files (1 loaded, 1 skipped), "
        "2 rows read = 2 loaded + 0 quarantined in 0.5s): /d/b.csv.gz: the gzip data is damaged"
    )
    loader._fail_on_damaged(report_of(files[0]))  # nothing damaged: nothing raised
