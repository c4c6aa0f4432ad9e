"""Staging a batch of exports as text in DuckDB: columns, line numbers, rejected lines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from tierwise.exceptions import IngestError
from tierwise.ingest.config import SourceConfig
from tierwise.ingest.files import SourceFile, inspect_content
from tierwise.ingest.readers import (
    LINED,
    REJECT_LINES,
    BatchFile,
    columns_of,
    csv_line_sql,
    header_lines,
    stage_batch,
)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        yield connection


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def batch(config: SourceConfig, *paths: str) -> list[BatchFile]:
    return [
        BatchFile(
            index,
            path,
            f"sum{index}",
            None,
            None,
            False,
            inspect_content(SourceFile(path, None), config.format),
        )
        for index, path in enumerate(paths)
    ]


def test_lines_before_the_first_record(make_config: Callable[..., SourceConfig]) -> None:
    assert header_lines(make_config(format={"skip_rows": 2}).format) == 3
    assert header_lines(make_config(format={"header": False}).format) == 0


def test_column_names_come_from_the_header_made_unique(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    path = write(tmp_path / "a.csv", '\ufeffID;"Unit Price";id;; Note \r\n1;2;3;4;5\r\n')
    assert columns_of(con, make_config(format={"delimiter": ";"}), path) == (
        "ID",
        "Unit Price",
        "id_2",
        "column3",
        "Note",
    )
    headerless = make_config(format={"delimiter": ";", "header": False})
    assert columns_of(con, headerless, path) == ("column0", "column1", "column2", "column3", "column4")
    assert columns_of(con, make_config(), write(tmp_path / "empty.csv", "\n\n")) is None


def test_named_columns_must_match_the_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    path = write(tmp_path / "a.csv", "1,2,3\n")
    config = make_config(format={"header": False, "columns": ["order_id", "amount"]})
    with pytest.raises(IngestError) as caught:
        columns_of(con, config, path)
    assert (
        str(caught.value)
        == f"{path}: format.columns names 2 columns but the file has 3 (first line: '1,2,3')"
    )


def test_a_batch_is_staged_with_line_numbers_and_rejected_lines_aside(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    config = make_config()
    first = write(tmp_path / "a.csv", 'order_id,Note\nO1,plain\nO2,"a, b"\nO3,x,extra\nO4,last\n')
    second = write(tmp_path / "b.csv", "order_id,Note\nO5,y\n")
    staged = stage_batch(con, config, batch(config, first, second), ("order_id", "Note"))
    assert staged.columns == ("order_id", "Note")
    rows = con.execute(
        f"select _tw_file, _source_line, order_id, Note from {LINED} order by _tw_ord"
    ).fetchall()
    assert rows == [(0, 2, "O1", "plain"), (0, 3, "O2", "a, b"), (0, 5, "O4", "last"), (1, 2, "O5", "y")]
    rejected = con.execute(
        f"select _tw_file, _source_line, error_types, raw_line from {REJECT_LINES}"
    ).fetchall()
    assert rejected == [(0, 4, "TOO MANY COLUMNS", "O3,x,extra")]


def test_a_file_the_csv_reader_loses_lines_of_is_read_again_line_by_line(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    config = make_config()
    path = write(tmp_path / "a.csv", 'order_id,Note\nO1,"never closed\nO2,b\nO3,c\n')
    stage_batch(con, config, batch(config, path), ("order_id", "Note"))
    rows = con.execute(f"select _source_line, order_id, Note from {LINED} order by _source_line").fetchall()
    assert rows == [(3, "O2", "b"), (4, "O3", "c")]
    [(line, kind)] = con.execute(f"select _source_line, error_types from {REJECT_LINES}").fetchall()
    assert (line, kind) == (2, "UNBALANCED QUOTE")


def test_json_lines_keep_malformed_lines_as_rows(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    config = make_config(format={"type": "jsonl"})
    path = write(
        tmp_path / "a.jsonl",
        '{"order_id": "O1", "amount": 2.5}\n[1, 2]\n\n{"status": "x", "order_id": "O2"}\n',
    )
    staged = stage_batch(con, config, batch(config, path), ())
    assert staged.columns == ("amount", "order_id", "status")  # first seen, then by name
    rows = con.execute(
        f"select _source_line, order_id, amount, status, _tw_malformed from {LINED} order by _tw_ord"
    ).fetchall()
    assert rows == [(1, "O1", "2.5", None, False), (2, None, None, None, True), (4, "O2", None, "x", False)]


def test_parquet_values_are_staged_as_text(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, make_config: Callable[..., SourceConfig]
) -> None:
    config = make_config(format={"type": "parquet"})
    path = str(tmp_path / "a.parquet")
    con.execute(
        f"copy (select 'O1' as order_id, 12.50::decimal(18,2) as amount) to '{path}' (format parquet)"
    )
    assert columns_of(con, config, path) == ("order_id", "amount")
    staged = stage_batch(con, config, batch(config, path), ("order_id", "amount"))
    assert con.execute(f"select order_id, amount from {LINED}").fetchall() == [("O1", "12.50")]
    [(line,)] = con.execute(f"select {staged.raw_line_sql} from {LINED} as s").fetchall()
    assert json.loads(line) == {"order_id": "O1", "amount": "12.50"}


def test_a_row_is_rendered_back_as_a_line_of_its_own_dialect(
    con: duckdb.DuckDBPyConnection, make_config: Callable[..., SourceConfig]
) -> None:
    con.execute("""create table t as select 'a' as x, 'b;c' as y, 'say "hi"' as z, null as w""")
    sql = csv_line_sql(("x", "y", "z", "w"), make_config(format={"delimiter": ";"}).format)
    assert con.execute(f"select {sql} from t as s").fetchone() == ('a;"b;c";"say ""hi""";',)
