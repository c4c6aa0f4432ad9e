"""ops.load_manifest: what was loaded, with which content and config, and what stays current."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime

import duckdb
import pytest

from tierwise.ingest import manifest
from tierwise.ingest.manifest import LoadKey, ManifestEntry
from tierwise.ingest.report import LOADED, FileResult
from tierwise.ingest.tables import ensure_tables
from tierwise.schema import ORDERS

OLD = "/exports/old/orders_2024-01-01.csv"
NEW = "/exports/new/orders_2024-01-01.csv"
JAN_1 = (date(2024, 1, 1), date(2024, 1, 2))
JAN_2 = (date(2024, 1, 2), date(2024, 1, 3))


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        ensure_tables(connection, ORDERS)
        yield connection


def key(
    path: str = OLD, checksum: str = "c1", config: str = "h1", slice_: tuple[date, date] | None = None
) -> LoadKey:
    return LoadKey("shop", path, checksum, config, slice_)


def record(con: duckdb.DuckDBPyConnection, load: LoadKey, run_id: str = "r1", read: int = 3) -> None:
    result = FileResult(
        load.file_path, LOADED, date(2024, 1, 1), load.checksum, read, read - 1, 1, {"duplicate": 1}
    )
    entry = ManifestEntry(load, "orders", 120, result, load.slice, datetime(2024, 1, 2, 3, 0), run_id)
    manifest.record_all(con, [entry])


def already_loaded(con: duckdb.DuckDBPyConnection, load: LoadKey) -> bool:
    return manifest.lookup(con, [load])[load.file_path].loaded


def moved_from(con: duckdb.DuckDBPyConnection, load: LoadKey, gone: Callable[[str], bool]) -> str | None:
    return manifest.lookup(con, [load])[load.file_path].moved_from(load.file_path, gone)


def seen_before(con: duckdb.DuckDBPyConnection, path: str) -> bool:
    """Any earlier load of ``path``, whatever its content and config."""
    return manifest.lookup(con, [key(path=path, checksum="other", config="other")])[path].seen


def current(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(
        "select file_path, file_checksum, slice_start, run_id from ops.load_manifest "
        "where is_current order by all"
    ).fetchall()


def test_a_load_is_recorded_with_its_counts(con: duckdb.DuckDBPyConnection) -> None:
    record(con, key())
    row = con.execute(
        "select source, entity, file_size, file_date, config_hash, rows_read, rows_loaded, rows_quarantined, "
        "quarantined_by_reason, new_columns, status, is_current, loaded_at from ops.load_manifest"
    ).fetchone()
    assert row == (
        "shop",
        "orders",
        120,
        date(2024, 1, 1),
        "h1",
        3,
        2,
        1,
        '{"duplicate": 1}',
        [],
        "loaded",
        True,
        datetime(2024, 1, 2, 3, 0),
    )


def test_the_same_content_and_config_counts_as_loaded(con: duckdb.DuckDBPyConnection) -> None:
    assert not already_loaded(con, key())
    record(con, key())
    assert already_loaded(con, key())
    assert already_loaded(con, key(slice_=JAN_1))  # the whole file covers every slice
    assert not already_loaded(con, key(checksum="c2"))
    assert not already_loaded(con, key(config="h2"))
    assert not already_loaded(con, key(path=NEW))


def test_a_slice_is_loaded_for_itself_only(con: duckdb.DuckDBPyConnection) -> None:
    record(con, key(slice_=JAN_1))
    assert already_loaded(con, key(slice_=JAN_1))
    assert not already_loaded(con, key(slice_=JAN_2))
    assert not already_loaded(con, key(slice_=(JAN_1[0], JAN_2[1])))  # a wider slice
    assert not already_loaded(con, key())


def test_a_new_load_supersedes_the_earlier_rows_of_its_file_or_slice(con: duckdb.DuckDBPyConnection) -> None:
    record(con, key(slice_=JAN_1), "r1")
    record(con, key(slice_=JAN_2), "r2")
    record(con, key(checksum="c2", slice_=JAN_1), "r3")
    assert current(con) == [(OLD, "c1", date(2024, 1, 2), "r2"), (OLD, "c2", date(2024, 1, 1), "r3")]
    record(con, key(checksum="c3"), "r4")
    assert current(con) == [(OLD, "c3", None, "r4")]
    assert con.execute("select count(*) from ops.load_manifest").fetchone() == (4,)  # history kept


def test_a_moved_file_is_found_by_content_config_and_name(con: duckdb.DuckDBPyConnection) -> None:
    record(con, key())
    assert moved_from(con, key(path=NEW), lambda path: path == OLD) == OLD
    assert moved_from(con, key(path=NEW), lambda path: False) is None  # a copy: both exist
    assert moved_from(con, key(path="/exports/new/renamed.csv"), lambda path: True) is None
    assert moved_from(con, key(path=NEW, config="h2"), lambda path: True) is None


def test_relocating_moves_only_this_sources_rows(con: duckdb.DuckDBPyConnection) -> None:
    record(con, key())
    con.execute("insert into raw.orders (order_id, _source_file) values ('O1', ?)", [OLD])
    con.execute("insert into quarantine.orders (source, _source_file) values ('shop', ?)", [OLD])
    con.execute(
        "insert into ops.extra_columns (source, _source_file) values ('shop', ?), ('lookup', ?)", [OLD, OLD]
    )
    manifest.relocate(con, "shop", ORDERS, OLD, NEW)
    assert con.execute("select _source_file from raw.orders").fetchall() == [(NEW,)]
    assert con.execute("select _source_file from quarantine.orders").fetchall() == [(NEW,)]
    extra = con.execute("select source, _source_file from ops.extra_columns order by 1").fetchall()
    assert extra == [("lookup", OLD), ("shop", NEW)]
    assert current(con) == [(NEW, "c1", None, "r1")]
    assert seen_before(con, NEW) and not seen_before(con, OLD)


def test_a_file_no_longer_listed_stays_in_the_history_only(con: duckdb.DuckDBPyConnection) -> None:
    record(con, key())
    manifest.supersede(con, "shop", OLD)
    assert current(con) == []
    assert seen_before(con, OLD)
    assert not already_loaded(con, key())


def test_one_lookup_answers_for_many_files_as_one_lookup_per_file_does(
    con: duckdb.DuckDBPyConnection,
) -> None:
    day_2, day_3 = "/exports/old/orders_2024-01-02.csv", "/exports/old/orders_2024-01-03.csv"
    record(con, key())
    record(con, key(path=day_2, slice_=JAN_1))
    record(con, key(path=day_3))
    asked = [key(checksum="c2"), key(path=NEW), key(path=day_2, slice_=JAN_1), key(path=day_3, config="h2")]
    known = manifest.lookup(con, asked)
    for one in asked:
        assert known[one.file_path].loaded == already_loaded(con, one)
        assert known[one.file_path].moved_from(one.file_path, lambda path: True) == moved_from(
            con, one, lambda path: True
        )
    assert [known[one.file_path].loaded for one in asked] == [False, False, True, False]
    assert known[OLD] == manifest.KnownFile(loaded=False, seen=True, same_content=())
    assert known[NEW] == manifest.KnownFile(loaded=False, seen=False, same_content=(OLD,))
    assert known[NEW].moved_from(NEW, lambda path: path == OLD) == OLD
    assert known[NEW].moved_from(NEW, lambda path: False) is None  # a copy: both exist
    assert manifest.lookup(con, []) == {}


def test_recording_a_batch_at_once_supersedes_as_one_by_one_does(con: duckdb.DuckDBPyConnection) -> None:
    record(con, key(slice_=JAN_1), "r1")
    record(con, key(path=NEW), "r1")
    entries = [
        ManifestEntry(
            k,
            "orders",
            9,
            FileResult(k.file_path, LOADED, None, k.checksum),
            k.slice,
            datetime(2024, 1, 3),
            "r2",
        )
        for k in (key(checksum="c2", slice_=JAN_2), key(path=NEW, checksum="c3"))
    ]
    manifest.record_all(con, entries)
    assert current(con) == [
        (NEW, "c3", None, "r2"),
        (OLD, "c1", date(2024, 1, 1), "r1"),
        (OLD, "c2", date(2024, 1, 2), "r2"),
    ]
