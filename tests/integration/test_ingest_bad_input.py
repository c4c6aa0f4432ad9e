"""Every kind of bad input ends in a clear error or a quarantine row, never a crash or a silent loss."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.support import engine_at

from tierwise.exceptions import IngestError
from tierwise.ingest import IngestReport, ingest_source, parse_source_config
from tierwise.ingest.config import SourceConfig

HEADER = "order_id,customer_id,ordered_at,status,currency,gross_amount"
GOOD = "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00"


def config(**extra: Any) -> SourceConfig:
    base: dict[str, Any] = {"entity": "orders", "files": {"pattern": "orders/*"}}
    for key, value in extra.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and key in base else value
    return parse_source_config(base, origin="orders.yml", default_name="orders")


def export(tmp_path: Path, content: str | bytes, name: str = "orders_2024-01-01.csv") -> Path:
    path = tmp_path / "data" / "orders" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def load(tmp_path: Path, source: SourceConfig | None = None, run_id: str = "run") -> IngestReport:
    return ingest_source(
        source or config(), engine=engine_at(tmp_path / "w.duckdb"), data_dir=tmp_path / "data", run_id=run_id
    )


def query(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def quarantined(tmp_path: Path) -> list[tuple]:
    return query(tmp_path, "select _source_line, reason, raw_line from quarantine.orders order by 1")


def test_empty_file_is_an_error_unless_accepted(tmp_path: Path) -> None:
    path = export(tmp_path, "")
    with pytest.raises(IngestError, match=f"{path}: the file is empty.*empty_files: skip"):
        load(tmp_path)
    report = load(tmp_path, config(files={"empty_files": "skip"}))
    assert report.files[0].status == "empty" and report.rows_read == 0
    assert query(tmp_path, "select status, rows_read from ops.load_manifest") == [("empty", 0)]


def test_header_only_file_loads_nothing_and_is_recorded(tmp_path: Path) -> None:
    export(tmp_path, HEADER + "\n")
    report = load(tmp_path)
    assert (report.files_loaded, report.rows_read) == (1, 0)
    assert query(tmp_path, "select status, rows_read, rows_loaded from ops.load_manifest") == [
        ("loaded", 0, 0)
    ]


def test_truncated_last_line_is_quarantined(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}\n{GOOD}\nO2,C2,2024-01-01 1")
    report = load(tmp_path)
    assert (report.rows_read, report.rows_loaded) == (2, 1)
    assert quarantined(tmp_path) == [(3, "malformed_line", "O2,C2,2024-01-01 1")]


def test_wrong_column_count_and_bad_quoting_are_quarantined_with_their_lines(tmp_path: Path) -> None:
    lines = [
        HEADER,
        GOOD,
        "O2,C2,2024-01-01 10:00:00,completed,EUR,1,extra",
        "O3,C3",
        GOOD.replace("O1", "O4"),
        'O5,"C5,2024-01-01,x',
    ]
    export(tmp_path, "\n".join(lines) + "\n")
    report = load(tmp_path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (5, 2, 3)
    # Rows after a rejected line keep their own line numbers.
    assert query(tmp_path, "select order_id, _source_line from raw.orders order by 2") == [
        ("O1", 2),
        ("O4", 5),
    ]
    rows = quarantined(tmp_path)
    assert rows[:2] == [(3, "malformed_line", lines[2]), (4, "malformed_line", lines[3])]
    assert rows[2][:2] == (6, "malformed_line") and rows[2][2].startswith('O5,"C5')
    details = query(tmp_path, "select detail from quarantine.orders order by _source_line")
    assert "TOO MANY COLUMNS" in details[0][0] and "MISSING COLUMNS" in details[1][0]


def test_wrong_delimiter_fails_with_a_hint(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}\n{GOOD}\n")
    with pytest.raises(IngestError, match=r"no column for required field 'order_id'.*delimiter ';'"):
        load(tmp_path, config(format={"delimiter": ";"}))


def test_latin1_in_a_utf8_export_is_quarantined_or_read_with_the_right_encoding(tmp_path: Path) -> None:
    content = f"{HEADER}\n{GOOD}\nO2,C\xe92,2024-01-01 10:00:00,completed,EUR,5\n".encode("latin-1")
    export(tmp_path, content)
    report = load(tmp_path)
    assert report.quarantined_by_reason == {"invalid_encoding": 1} and report.rows_loaded == 1
    (detail,) = query(tmp_path, "select detail from quarantine.orders")
    assert "encoding" in detail[0]
    report = load(tmp_path, config(format={"encoding": "latin-1"}), run_id="fixed")
    assert report.rows_loaded == 2 and report.files[0].replaced
    assert query(tmp_path, "select customer_id from raw.orders order by 1") == [("C1",), ("Cé2",)]
    assert query(tmp_path, "select count(*) from quarantine.orders") == [(0,)]


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    export(tmp_path, "\ufeff" + f"{HEADER}\r\n{GOOD}\r\n")
    report = load(tmp_path)
    assert report.rows_loaded == 1 and report.new_columns == ()
    assert query(tmp_path, "select order_id, gross_amount from raw.orders") == [("O1", 10)]


def test_duplicate_ids_across_files_are_kept_as_versions(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}\n{GOOD}\n", "orders_2024-01-01.csv")
    export(tmp_path, f"{HEADER}\n{GOOD}\n{GOOD}\n", "orders_2024-01-02.csv")
    report = load(tmp_path)
    assert (report.rows_loaded, report.quarantined_by_reason) == (2, {"duplicate": 1})
    # Same id in two exports: two observations, told apart by file; staging keeps the latest.
    assert query(tmp_path, "select order_id, _file_date, _source_line from raw.orders order by 2") == [
        ("O1", date(2024, 1, 1), 2),
        ("O1", date(2024, 1, 2), 2),
    ]
    assert query(tmp_path, "select detail from quarantine.orders") == [("exact copy of line 2",)]


def test_amounts_with_thousands_separators_and_currency_symbols(tmp_path: Path) -> None:
    lines = [
        HEADER,
        'O1,C1,2024-01-01,completed,GBP,"£1,234.50"',
        "O2,C2,2024-01-01,completed,EUR,€ 99",
        "O3,C3,2024-01-01,completed,USD,12 dollars",
    ]
    export(tmp_path, "\n".join(lines) + "\n")
    report = load(tmp_path, config(parse={"thousands_separator": ","}))
    assert report.rows_loaded == 2 and report.quarantined_by_reason == {"invalid_gross_amount": 1}
    assert query(tmp_path, "select order_id, gross_amount from raw.orders order by 1") == [
        ("O1", 1234.5),
        ("O2", 99),
    ]
    (detail,) = query(tmp_path, "select detail from quarantine.orders")
    assert detail == ("gross_amount: cannot read 12 dollars as DECIMAL(18,2)",)


def test_dates_in_three_formats(tmp_path: Path) -> None:
    lines = [
        HEADER,
        "O1,C1,2024-01-01 10:00:00,completed,EUR,1",
        "O2,C2,01/01/2024 11:30,completed,EUR,1",
        "O3,C3,01.01.2024,completed,EUR,1",
        "O4,C4,Jan 1st 2024,completed,EUR,1",
    ]
    export(tmp_path, "\n".join(lines) + "\n")
    report = load(tmp_path, config(parse={"date_formats": ["%d/%m/%Y %H:%M", "%d.%m.%Y"]}))
    assert report.rows_loaded == 3 and report.quarantined_by_reason == {"invalid_ordered_at": 1}
    assert [
        row[0].isoformat() for row in query(tmp_path, "select ordered_at from raw.orders order by order_id")
    ] == [
        "2024-01-01T10:00:00",
        "2024-01-01T11:30:00",
        "2024-01-01T00:00:00",
    ]


def test_a_file_that_disappears_mid_run_is_reported_not_lost(tmp_path: Path, monkeypatch) -> None:
    first = export(tmp_path, f"{HEADER}\n{GOOD}\n", "orders_2024-01-01.csv")
    second = export(tmp_path, f"{HEADER}\n{GOOD.replace('O1', 'O2')}\n", "orders_2024-01-02.csv")
    kept = second.read_bytes()
    from tierwise.ingest import loader

    real_stage = loader.stage_batch

    def stage_after_vanishing(con, source, files, columns):
        if second.exists():
            second.unlink()  # gone between listing (and checksum) and reading
        return real_stage(con, source, files, columns)

    monkeypatch.setattr(loader, "stage_batch", stage_after_vanishing)
    report = load(tmp_path)
    assert [f.status for f in report.files] == ["loaded", "vanished"]
    assert any(str(second) in warning and "disappeared" in warning for warning in report.warnings)
    assert query(tmp_path, "select file_path from ops.load_manifest") == [(str(first),)]
    monkeypatch.undo()
    second.write_bytes(kept)
    report = load(tmp_path, run_id="next")
    assert [f.status for f in report.files] == ["unchanged", "loaded"]


def test_a_config_that_points_at_nothing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(IngestError, match=r"orders.yml: files.pattern 'orders/\*' matched no files"):
        load(tmp_path)


def test_interval_must_not_be_empty(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}\n{GOOD}\n")
    with pytest.raises(IngestError, match="end is exclusive"):
        ingest_source(
            config(),
            engine=engine_at(tmp_path / "w.duckdb"),
            data_dir=tmp_path / "data",
            interval=(date(2024, 1, 1), date(2024, 1, 1)),
            run_id="r",
        )


def test_rules_quarantine_with_reasons(tmp_path: Path) -> None:
    lines = [
        HEADER,
        ",C1,2024-01-01,completed,EUR,1",
        "O2,C2,2024-01-01,shipped,EUR,1",
        "O3,C3,2024-01-01,completed,XXX,1",
        "O4,C4,2024-01-01,completed,EUR,-1",
        "O5,C5,2024-01-01,completed,EUR,10000000",
        "O6,C6,2024-01-03,completed,EUR,1",
        "O7,C7,2024-01-02 23:59:59,completed,EUR,1",
    ]
    export(tmp_path, "\n".join(lines) + "\n")
    report = load(tmp_path)
    assert report.rows_loaded == 1
    assert [row[:2] for row in quarantined(tmp_path)] == [
        (2, "missing_order_id"),
        (3, "unknown_status"),
        (4, "unknown_currency"),
        (5, "negative_gross_amount"),
        (6, "absurd_gross_amount"),
        (7, "future_ordered_at"),
    ]


def test_value_maps_rules_defaults_and_float_ids(tmp_path: Path) -> None:
    lines = [
        "Nr;Kunde;Datum;Status;Betrag",
        "1001;17850.0;05.01.2024;Erledigt;1.234,50",
        "C1002;17850.0;05.01.2024;Erledigt;10,00",
    ]
    export(tmp_path, "\n".join(lines) + "\n", "export_2024-01-05.csv")
    source = config(
        format={"delimiter": ";"},
        parse={
            "float_ids": True,
            "decimal_separator": ",",
            "thousands_separator": ".",
            "date_formats": ["%d.%m.%Y"],
        },
        mapping={
            "order_id": "Nr",
            "customer_id": "Kunde",
            "ordered_at": "Datum",
            "status": "Status",
            "gross_amount": "Betrag",
        },
        defaults={"currency": "EUR"},
        values={
            "status": {
                "map": {"Erledigt": "completed"},
                "rules": [{"when": "Nr like 'C%'", "then": "cancelled"}],
            }
        },
    )
    report = load(tmp_path, source)
    assert report.rows_quarantined == 0, quarantined(tmp_path)
    assert query(
        tmp_path, "select order_id, customer_id, status, currency, gross_amount from raw.orders order by 1"
    ) == [
        ("1001", "17850", "completed", "EUR", 1234.5),
        ("C1002", "17850", "cancelled", "EUR", 10),
    ]


def test_a_stray_quote_loses_only_its_own_line_among_many_files(tmp_path: Path) -> None:
    rows = [f"O{n},C{n},2024-01-01 10:00:00,completed,EUR,{n}.00" for n in range(1, 31)]
    rows[1] = rows[1].replace(",EUR,", ',"EUR,')
    export(tmp_path, "\n".join([HEADER, *rows[:10]]) + "\n", "orders_2024-01-01.csv")
    export(tmp_path, "\n".join([HEADER, *rows[10:]]) + "\n", "orders_2024-01-02.csv")
    report = load(tmp_path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (30, 29, 1)
    assert quarantined(tmp_path) == [(3, "malformed_line", rows[1])]
    assert query(tmp_path, "select count(*), min(_source_line), max(_source_line) from raw.orders")[0] == (
        29,
        2,
        21,
    )


def test_a_stray_quote_in_one_big_file_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    rows = [f"O{n},C{n % 97},2024-01-01 10:00:00,completed,EUR,{n}.00,fine" for n in range(30_000)]
    rows[3] = rows[3].replace(",EUR,", ',"EUR,')
    # A legitimate quoted value over two lines, after the broken one, must still be one record.
    rows[10] = 'O10,C1,2024-01-01 10:00:00,completed,EUR,10.00,"first line\nsecond line"'
    export(tmp_path, "\n".join([HEADER + ",note", *rows]) + "\n")
    report = load(tmp_path, config(ignore_columns=["note"]))
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (30_000, 29_999, 1)
    assert quarantined(tmp_path) == [(5, "malformed_line", rows[3])]
    assert query(tmp_path, "select _source_line from raw.orders where order_id = 'O11'") == [(14,)]


def test_rows_the_reader_cannot_account_for_fail_the_load(tmp_path: Path, monkeypatch) -> None:
    from tierwise.ingest import lines

    def loses_a_record(*args: Any) -> tuple[list[Any], list[Any]]:
        records, bad = original(*args)
        return records[1:], bad

    original = lines.reparse
    monkeypatch.setattr(lines, "reparse", loses_a_record)
    path = export(tmp_path, "\n".join([HEADER, GOOD, 'O2,"C2,2024-01-01,completed,EUR,1', GOOD]) + "\n")
    with pytest.raises(IngestError, match=f"{path}: 2 lines read or rejected, but the file holds 3"):
        load(tmp_path)
    assert query(tmp_path, "select count(*) from ops.load_manifest") == [(0,)]


def test_a_mapped_optional_column_the_file_lacks_is_left_empty_with_a_warning(tmp_path: Path) -> None:
    export(tmp_path, f"{HEADER}\n{GOOD}\n")
    export(tmp_path, f"{HEADER}\n{GOOD.replace('O1', 'O2')}\n", "orders_2024-01-02.csv")
    source = config(mapping={"payment_method": "Zahlungsart", "parent_order_id": "lower(Vorgaenger)"})
    report = load(tmp_path, source)
    assert (report.rows_read, report.rows_loaded) == (2, 2)
    assert any("payment_method left empty" in w and "'Zahlungsart' is missing" in w for w in report.warnings)
    assert any("parent_order_id left empty" in w for w in report.warnings)
    assert query(tmp_path, "select count(*) from raw.orders where payment_method is null") == [(2,)]


def test_control_characters_in_ids_are_quarantined(tmp_path: Path) -> None:
    lines = [HEADER, GOOD, GOOD.replace("C1", "C\x002"), GOOD.replace("O1", "O\x1b3")]
    export(tmp_path, "\n".join(lines) + "\n")
    report = load(tmp_path)
    assert (report.rows_read, report.rows_loaded) == (3, 1)
    reasons = query(tmp_path, "select _source_line, reason, detail from quarantine.orders order by 1")
    assert [row[:2] for row in reasons] == [(3, "invalid_customer_id"), (4, "invalid_order_id")]
    assert "control character" in reasons[0][2] and "\x00" not in reasons[0][2]


def test_amounts_are_rounded_to_cents_as_documented(tmp_path: Path) -> None:
    # docs/ingestion.md: money is DECIMAL(18,2); more decimals are rounded half away from zero.
    lines = [HEADER, GOOD.replace("10.00", "100.005"), GOOD.replace("O1", "O2").replace("10.00", "0.0000001")]
    export(tmp_path, "\n".join(lines) + "\n")
    load(tmp_path)
    rows = query(tmp_path, "select order_id, gross_amount::varchar from raw.orders order by 1")
    assert rows == [("O1", "100.01"), ("O2", "0.00")]


def test_a_gzip_with_a_bad_checksum_fails_alone_and_loads_nothing_of_itself(tmp_path: Path) -> None:
    import gzip

    good = gzip.compress(f"{HEADER}\n{GOOD}\n".encode())
    export(tmp_path, good, "orders_2024-01-01.csv.gz")
    damaged = bytearray(gzip.compress(f"{HEADER}\n{GOOD.replace('O1', 'O2')}\n".encode(), mtime=0))
    damaged[-8] ^= 0xFF  # the CRC32 of the trailer no longer matches the data
    path = export(tmp_path, bytes(damaged), "orders_2024-01-02.csv.gz")
    source = config(files={"pattern": "orders/*.csv.gz"})
    with pytest.raises(IngestError, match=f"1 damaged file.*{path}: the gzip data is damaged .*CRC"):
        load(tmp_path, source)
    assert query(tmp_path, "select order_id from raw.orders") == [("O1",)]
    assert query(tmp_path, f"select count(*) from ops.load_manifest where file_path = '{path}'") == [(0,)]
