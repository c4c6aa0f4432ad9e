from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tierwise.exceptions import IngestError
from tierwise.ingest.files import SourceFile, file_date_of, list_files, resolve_pattern, stat_file


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_file_date_comes_from_the_name(make_config) -> None:
    config = make_config()
    assert file_date_of("/x/orders_2024-03-05.csv", config) == date(2024, 3, 5)
    assert file_date_of("/2023-01-01/orders_2024-03-05.csv.gz", config) == date(2024, 3, 5)
    assert file_date_of("/x/orders.csv", config) is None
    assert file_date_of("/x/orders_2024-13-45.csv", config) is None
    compact = make_config(files={"date_pattern": r"_(\d{8})\.", "date_format": "%Y%m%d"})
    assert file_date_of("/x/export_20240305.csv", compact) == date(2024, 3, 5)


def test_files_are_listed_oldest_first(tmp_path: Path, con, make_config) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    for name in ("orders_2024-01-03.csv", "orders_2024-01-01.csv", "orders_2024-01-02.csv", "notes.txt"):
        (folder / name).write_text("x\n", encoding="utf-8")
    files = list_files(con, make_config(), tmp_path)
    assert [f.file_date for f in files] == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    assert all(Path(f.path).is_absolute() for f in files)
    everything = list_files(con, make_config(files={"pattern": str(folder)}), tmp_path)
    assert len(everything) == 4  # a folder means every file in it


def test_a_config_that_points_at_nothing_is_an_error(tmp_path: Path, con, make_config) -> None:
    with pytest.raises(IngestError, match=r"matched no files .*orders/orders_\*\.csv"):
        list_files(con, make_config(), tmp_path / "missing")


def test_patterns_expand_environment_variables(tmp_path: Path, monkeypatch, make_config) -> None:
    monkeypatch.setenv("EXPORTS", str(tmp_path))
    config = make_config(files={"pattern": "${EXPORTS}/orders/*.csv"})
    assert resolve_pattern(config, Path("/elsewhere")) == f"{tmp_path}/orders/*.csv"
    assert resolve_pattern(make_config(files={"pattern": "s3://bucket/o/*.csv"}), tmp_path).startswith(
        "s3://"
    )


def test_checksum_and_vanished_files(tmp_path: Path, con) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\n1,2\n")
    stat = stat_file(con, SourceFile(str(path), None))
    assert stat is not None
    assert (stat.size, stat.checksum) == (8, hashlib.sha256(b"a,b\n1,2\n").hexdigest())
    assert stat_file(con, SourceFile(str(tmp_path / "gone.csv"), None)) is None
