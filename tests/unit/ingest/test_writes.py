"""Writing a transformed batch: raw, quarantine and drifted columns, and replacing an earlier load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from tierwise.exceptions import IngestError
from tierwise.ingest.config import SourceConfig
from tierwise.ingest.files import SourceFile, inspect_content
from tierwise.ingest.mapping import RESULT, create_result, create_typed_view, mark_duplicates, plan_fields
from tierwise.ingest.readers import BatchFile, Staged, columns_of, stage_batch
from tierwise.ingest.tables import ensure_tables
from tierwise.ingest.writes import Counts, Target, delete_previous, insert_rows
from tierwise.schema import ORDERS

HEADER = "order_id,customer_id,ordered_at,status,currency,gross_amount,channel\n"
LOADED_AT = datetime(2024, 1, 3, 4, 0)
TARGET = Target("shop", ORDERS, "updated_at", None, "r1", LOADED_AT)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        ensure_tables(connection, ORDERS)
        yield connection


def transform(con: duckdb.DuckDBPyConnection, config: SourceConfig, file: BatchFile) -> Staged:
    """Stage, type and check one file as the loader does, up to the result the writer reads."""
    columns = columns_of(con, config, file.path) or ()
    staged = stage_batch(con, config, [file], columns)
    mark_duplicates(con, staged.columns)
    create_typed_view(con, config, staged.columns)
    plans, _ = plan_fields(con, config, staged.columns, file.path)
    create_result(con, config, plans, staged.columns, None, file.path)
    return staged


def export(tmp_path: Path, config: SourceConfig, name: str, rows: str, file_date: date | None) -> BatchFile:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    lines = inspect_content(SourceFile(str(path), file_date), config.format)
    return BatchFile(0, str(path), "sum1", file_date, date(2024, 1, 3), False, lines)


def test_rows_go_to_raw_or_quarantine_and_every_line_read_is_counted(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    config = make_config()
    rows = (
        "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00,web\n"
        "O2,C2,2024-01-01 11:00:00,completed,EUR,-5.00,shop\n"
        "O3,C3,2024-01-01 12:00:00,completed\n"
        "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00,web\n"
    )
    file = export(tmp_path, config, "orders_2024-01-01.csv", rows, date(2024, 1, 1))
    staged = transform(con, config, file)
    counts = insert_rows(con, TARGET, staged.raw_line_sql, ("channel",))
    assert counts == {0: Counts(4, 1, 3, {"duplicate": 1, "malformed_line": 1, "negative_gross_amount": 1})}
    assert con.execute(
        "select order_id, updated_at, _source_file, _source_line, _file_checksum, _file_date, _loaded_at "
        "from raw.orders"
    ).fetchall() == [("O1", datetime(2024, 1, 1, 10), file.path, 2, "sum1", date(2024, 1, 1), LOADED_AT)]
    quarantined = con.execute(
        "select reason, detail, raw_line, _source_line, run_id from quarantine.orders order by _source_line"
    ).fetchall()
    assert quarantined == [
        (
            "negative_gross_amount",
            "gross_amount is negative: -5.00",
            "O2,C2,2024-01-01 11:00:00,completed,EUR,-5.00,shop",
            3,
            "r1",
        ),
        (
            "malformed_line",
            "MISSING COLUMNS: Expected Number of Columns: 7 Found: 4",
            "O3,C3,2024-01-01 12:00:00,completed",
            4,
            "r1",
        ),
        ("duplicate", "exact copy of line 2", "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00,web", 5, "r1"),
    ]
    extra = con.execute("select source, entity, _source_line, extra from ops.extra_columns").fetchall()
    assert extra == [("shop", "orders", 2, '{"channel":"web"}')]


def test_rows_that_do_not_add_up_write_nothing_and_fail(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    config = make_config()
    rows = (
        "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00,web\n"
        "O2,C2,2024-01-01 11:00:00,completed,EUR,2.00,web\n"
    )
    staged = transform(con, config, export(tmp_path, config, "orders_2024-01-01.csv", rows, date(2024, 1, 1)))
    con.execute(f"delete from {RESULT} where _source_line = 3")  # a row lost between reading and writing
    with pytest.raises(
        IngestError, match=r"rows read do not add up to rows loaded \+ quarantined \(files \[0\]"
    ):
        insert_rows(con, TARGET, staged.raw_line_sql, ())


@pytest.mark.parametrize("at_once", [False, True], ids=["one file", "a batch of files"])
def test_a_reload_deletes_what_the_earlier_load_of_the_file_wrote(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig], at_once: bool
) -> None:
    config = make_config()
    rows = (
        "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00,web\nO2,C2,2024-01-01 11:00:00,completed,EUR,-1,web\n"
    )
    file = export(tmp_path, config, "orders_2024-01-01.csv", rows, date(2024, 1, 1))
    insert_rows(con, TARGET, transform(con, config, file).raw_line_sql, ("channel",))
    con.execute(
        "insert into ops.extra_columns (source, _source_file, _source_line) values ('lookup', ?, 2)",
        [file.path],
    )
    con.execute("insert into raw.orders (order_id, _source_file) values ('O9', 'other.csv')")
    never_loaded = replace(file, path=str(tmp_path / "orders_2024-01-02.csv"))
    delete_previous(con, TARGET, [file, never_loaded] if at_once else [file])
    assert con.execute("select order_id from raw.orders").fetchall() == [("O9",)]
    assert con.execute("select count(*) from quarantine.orders").fetchone() == (0,)
    assert con.execute("select source from ops.extra_columns").fetchall() == [("lookup",)]


def test_an_interval_run_replaces_only_its_slice_of_a_dateless_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    config = make_config()
    rows = (
        "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00,web\n"
        "O2,C2,2024-01-02 10:00:00,completed,EUR,10.00,web\n"
        "O3,C3,2024-01-02 11:00:00,completed,EUR,-3.00,web\n"
        "O4,C4,2024-01-01 11:00:00,completed,EUR,-4.00,web\n"
        "O5,broken\n"
    )
    file = export(tmp_path, config, "orders.csv", rows, None)
    insert_rows(con, TARGET, transform(con, config, file).raw_line_sql, ())
    day_two = replace(TARGET, interval=(date(2024, 1, 2), date(2024, 1, 3)))
    delete_previous(con, day_two, [replace(file, sliced=True)])
    assert con.execute("select order_id from raw.orders").fetchall() == [("O1",)]
    # The malformed line belongs to no day: every slice run replaces it.
    assert con.execute("select _source_line, _slice_date from quarantine.orders").fetchall() == [
        (5, date(2024, 1, 1))
    ]
