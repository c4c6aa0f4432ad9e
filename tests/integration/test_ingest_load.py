"""Ingestion against a real DuckDB file: idempotency, replacement, slices, backfills, history, drift."""

from __future__ import annotations

import gzip
import hashlib
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from tests.support import engine_at

from tierwise.exceptions import IngestError
from tierwise.ingest import IngestReport, ingest_source, load_source_config, parse_source_config
from tierwise.ingest.config import SourceConfig
from tierwise.schema import ORDERS

REPO = Path(__file__).resolve().parents[2]
HEADER = ",".join(ORDERS.columns)
DAY = date(2024, 1, 1)


def order(
    order_id: str,
    *,
    day: date = DAY,
    customer: str = "C1",
    status: str = "completed",
    gross: str = "10.00",
    refunded: str = "0",
    updated: date | None = None,
    line_no: int = 1,
) -> str:
    stamp = f"{(updated or day).isoformat()} 12:00:00"
    placed = f"{day.isoformat()} 09:00:00"
    return f"{order_id},{line_no},{customer},{placed},{status},EUR,{gross},0,{refunded},card,,{stamp}"


def write_day(data: Path, day: date, lines: list[str], header: str = HEADER) -> Path:
    path = data / "orders" / f"orders_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def orders_config() -> SourceConfig:
    return load_source_config(REPO / "config" / "sources" / "orders.yml")


def load(
    tmp_path: Path,
    config: SourceConfig | None = None,
    *,
    warehouse: str = "w.duckdb",
    interval: tuple[date, date] | None = None,
    run_id: str = "run-1",
) -> IngestReport:
    return ingest_source(
        config or orders_config(),
        engine=engine_at(tmp_path / warehouse),
        data_dir=tmp_path / "data",
        interval=interval,
        run_id=run_id,
    )


def query(tmp_path: Path, sql: str, warehouse: str = "w.duckdb") -> list[tuple]:
    with duckdb.connect(str(tmp_path / warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def one_day(day: date) -> tuple[date, date]:
    return day, day + timedelta(days=1)


def test_sample_layout_lands_in_the_raw_contract(tmp_path: Path) -> None:
    path = write_day(tmp_path / "data", DAY, [order("O1"), order("O2", customer="C2", gross='"£1,5"')])
    report = load(tmp_path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 1, 1)
    columns = query(
        tmp_path,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = 'orders' order by ordinal_position",
    )
    assert [c[0] for c in columns] == [
        *ORDERS.columns,
        "_source_file",
        "_source_line",
        "_file_checksum",
        "_file_date",
        "_loaded_at",
    ]
    assert [c[1] for c in columns][: len(ORDERS.fields)] == [f.type for f in ORDERS.fields]
    (meta,) = query(tmp_path, "select _source_file, _source_line, _file_checksum, _file_date from raw.orders")
    assert meta == (str(path), 2, hashlib.sha256(path.read_bytes()).hexdigest(), DAY)
    (bad,) = query(tmp_path, "select reason, _source_line, raw_line, run_id from quarantine.orders")
    assert bad == ("invalid_gross_amount", 3, order("O2", customer="C2", gross='"£1,5"'), "run-1")


def test_same_file_twice_loads_once(tmp_path: Path) -> None:
    write_day(tmp_path / "data", DAY, [order("O1"), order("O2")])
    first = load(tmp_path)
    second = load(tmp_path, run_id="run-2")
    assert (first.files_loaded, second.files_loaded, second.files_skipped) == (1, 0, 1)
    assert second.files[0].status == "unchanged"
    assert query(tmp_path, "select count(*) from raw.orders") == [(2,)]
    assert query(tmp_path, "select count(*), count(*) filter (is_current) from ops.load_manifest") == [(1, 1)]


def test_changed_file_replaces_its_earlier_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_day(data, DAY, [order("O1"), order("O2")])
    write_day(data, DAY + timedelta(days=1), [order("O3", day=DAY + timedelta(days=1))])
    load(tmp_path)
    write_day(data, DAY, [order("O1"), order("O2", gross="12.00"), order("O4")])  # corrected export
    report = load(tmp_path, run_id="run-2")
    assert report.files_loaded == 1 and report.files[0].replaced
    assert query(tmp_path, "select order_id, gross_amount from raw.orders order by order_id") == [
        ("O1", 10),
        ("O2", 12),
        ("O3", 10),
        ("O4", 10),
    ]
    history = query(
        tmp_path, "select run_id, rows_loaded, is_current from ops.load_manifest order by loaded_at"
    )
    assert sorted(history) == [("run-1", 1, True), ("run-1", 2, False), ("run-2", 3, True)]


def test_a_failed_replacement_leaves_the_old_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    write_day(data, DAY, [order("O1"), order("O2")])
    load(tmp_path)
    write_day(data, DAY, [order("O9")])

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("tierwise.ingest.loader.insert_rows", crash)
    with pytest.raises(RuntimeError):
        load(tmp_path, run_id="run-2")
    assert query(tmp_path, "select order_id from raw.orders order by 1") == [("O1",), ("O2",)]
    assert query(tmp_path, "select run_id, is_current from ops.load_manifest") == [("run-1", True)]


def test_an_interrupted_full_load_resumes_after_its_last_committed_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    days = [DAY + timedelta(days=n) for n in range(4)]
    for n, day in enumerate(days):
        write_day(data, day, [order(f"O{n}a", day=day), order(f"O{n}b", day=day)])
    monkeypatch.setattr("tierwise.ingest.loader.BATCH_BYTES", 1)  # one file per batch
    from tierwise.ingest import loader

    real_insert, calls = loader.insert_rows, []

    def crash_on_the_third_batch(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(loader, "insert_rows", crash_on_the_third_batch)
    with pytest.raises(RuntimeError):
        load(tmp_path)
    assert query(tmp_path, "select count(*), count(distinct _source_file) from raw.orders") == [(4, 2)]
    assert query(tmp_path, "select count(*) from ops.load_manifest where is_current") == [(2,)]
    monkeypatch.setattr(loader, "insert_rows", real_insert)
    report = load(tmp_path, run_id="run-2")
    assert [f.status for f in report.files] == ["unchanged", "unchanged", "loaded", "loaded"]
    assert query(tmp_path, "select count(*), count(distinct order_id) from raw.orders") == [(8, 8)]
    manifest = query(
        tmp_path, "select run_id, count(*) from ops.load_manifest where is_current group by 1 order by 1"
    )
    assert manifest == [("run-1", 2), ("run-2", 2)]


def test_interval_run_replaces_its_slice_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    days = [DAY + timedelta(days=i) for i in range(3)]
    for day in days:
        write_day(data, day, [order(f"O{day.day}", day=day)])
    load(tmp_path)
    for day in days[1:]:
        write_day(data, day, [order(f"O{day.day}", day=day, gross="99.00")])
    report = load(tmp_path, interval=one_day(days[1]), run_id="day-2")
    assert report.files_seen == 1 and report.files_loaded == 1
    assert query(tmp_path, "select order_id, gross_amount from raw.orders order by 1") == [
        ("O1", 10),
        ("O2", 99),
        ("O3", 10),  # changed too, but outside the interval: untouched until its own run
    ]
    assert query(
        tmp_path, "select interval_start, interval_end from ops.load_manifest where run_id = 'day-2'"
    ) == [one_day(days[1])]


def _history_exports(data: Path) -> list[date]:
    """Four daily exports with late arrivals, corrections and rows for quarantine."""
    days = [DAY + timedelta(days=i) for i in range(4)]
    write_day(data, days[0], [order("O1"), order("O2", customer=""), order("O3"), order("O3")])
    write_day(
        data,
        days[1],
        [order("O4", day=days[1]), order("O1", status="refunded", refunded="10", updated=days[1])],
    )
    # A late record: ordered on day 0, first exported on day 2; and a date in the future of the export.
    write_day(data, days[2], [order("O5", updated=days[2]), order("O6", day=days[2] + timedelta(days=5))])
    write_day(
        data, days[3], [order("O4", day=days[1], status="partially_returned", refunded="4", updated=days[3])]
    )
    return days


RAW_COLUMNS = ", ".join([*ORDERS.columns, "_source_file", "_source_line", "_file_checksum", "_file_date"])
QUARANTINE_COLUMNS = (
    "source, reason, detail, raw_line, _source_file, _source_line, _file_checksum, _file_date"
)


def test_backfill_day_by_day_equals_one_load(tmp_path: Path) -> None:
    days = _history_exports(tmp_path / "data")
    load(tmp_path, warehouse="once.duckdb")
    for day in reversed(days):  # even out of order
        load(tmp_path, warehouse="daily.duckdb", interval=one_day(day), run_id=f"backfill-{day}")
    for table, columns in (("raw.orders", RAW_COLUMNS), ("quarantine.orders", QUARANTINE_COLUMNS)):
        sql = f"select {columns} from {table} order by all"
        assert query(tmp_path, sql, "once.duckdb") == query(tmp_path, sql, "daily.duckdb"), table
    assert query(tmp_path, "select count(*) from raw.orders", "once.duckdb") == [(6,)]
    reasons = query(tmp_path, "select reason from quarantine.orders order by 1", "daily.duckdb")
    assert reasons == [("duplicate",), ("future_ordered_at",), ("missing_customer_id",)]


def test_late_and_corrected_records_keep_every_version(tmp_path: Path) -> None:
    _history_exports(tmp_path / "data")
    load(tmp_path)
    versions = query(
        tmp_path,
        "select order_id, status, refunded_amount, updated_at::date, _file_date from raw.orders "
        "where order_id in ('O1', 'O4', 'O5') order by order_id, updated_at",
    )
    assert versions == [
        ("O1", "completed", 0, DAY, DAY),
        ("O1", "refunded", 10, DAY + timedelta(days=1), DAY + timedelta(days=1)),
        ("O4", "completed", 0, DAY + timedelta(days=1), DAY + timedelta(days=1)),
        ("O4", "partially_returned", 4, DAY + timedelta(days=3), DAY + timedelta(days=3)),
        ("O5", "completed", 0, DAY + timedelta(days=2), DAY + timedelta(days=2)),
    ]


def test_dateless_big_file_is_sliced_by_the_interval_column(tmp_path: Path) -> None:
    data = tmp_path / "data"
    days = [DAY + timedelta(days=i) for i in range(3)]
    lines = [order(f"O{i}", day=day, customer=f"C{i}") for i, day in enumerate(days)]
    lines.append("O9,1,C9,not a date,completed,EUR,1,0,0,card,,")  # belongs to no slice
    (data / "orders").mkdir(parents=True)
    (data / "orders" / "orders_all.csv").write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    config = parse_source_config(
        {"entity": "orders", "files": {"pattern": "orders/orders_all.csv"}, "interval_column": "ordered_at"},
        origin="big.yml",
        default_name="big",
    )
    load(tmp_path, config, warehouse="once.duckdb")
    for day in days:
        report = load(tmp_path, config, warehouse="daily.duckdb", interval=one_day(day), run_id=str(day))
        assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    again = load(tmp_path, config, warehouse="daily.duckdb", interval=one_day(days[0]), run_id="again")
    assert again.files[0].status == "unchanged"
    for table, columns in (("raw.orders", RAW_COLUMNS), ("quarantine.orders", QUARANTINE_COLUMNS)):
        sql = f"select {columns} from {table} order by all"
        assert query(tmp_path, sql, "once.duckdb") == query(tmp_path, sql, "daily.duckdb"), table
    assert query(tmp_path, "select count(*) from quarantine.orders", "daily.duckdb") == [(1,)]


def test_crm_history_keeps_versions_deletes_and_merges(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "contacts"
    folder.mkdir(parents=True)
    header = (
        "customer_id,customer_name,email,account_type,status,signup_date,updated_at,is_deleted,merged_into"
    )
    exports = {
        "2024-01-01": ["C1,Ann,ann@example.com,individual,active,2023-05-01,2024-01-01 08:00:00,false,"],
        "2024-01-02": [
            "C1,Ann Lee,ann@example.com,individual,active,2023-05-01,2024-01-02 09:00:00,false,",
            "C2,Bob,bob@example.com,business,active,2023-06-01,2024-01-02 10:00:00,,",
        ],
        "2024-01-03": [
            "C1,Ann Lee,ann@example.com,individual,closed,2023-05-01,2024-01-03 09:00:00,true,",
            "C2,Bob,bob@example.com,business,active,2023-06-01,2024-01-03 10:00:00,false,C1",
        ],
    }
    for day, lines in exports.items():
        (folder / f"contacts_{day}.csv").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    config = load_source_config(REPO / "config" / "sources" / "contacts.yml")
    report = load(tmp_path, config)
    assert report.rows_loaded == 5 and report.rows_quarantined == 0
    assert query(
        tmp_path,
        "select customer_id, customer_name, status, is_deleted, merged_into from raw.contacts "
        "order by customer_id, updated_at",
    ) == [
        ("C1", "Ann", "active", False, None),
        ("C1", "Ann Lee", "active", False, None),
        ("C1", "Ann Lee", "closed", True, None),
        ("C2", "Bob", "active", False, None),
        ("C2", "Bob", "active", False, "C1"),
    ]


def test_new_columns_are_kept_and_reported(tmp_path: Path) -> None:
    write_day(
        tmp_path / "data", DAY, [order("O1") + ",SPRING24", order("O2") + ","], header=HEADER + ",coupon_code"
    )
    report = load(tmp_path)
    assert report.new_columns == ("coupon_code",) and report.rows_loaded == 2
    assert any("coupon_code" in warning for warning in report.warnings)
    assert query(
        tmp_path, "select _source_line, extra->>'coupon_code' from ops.extra_columns order by 1"
    ) == [
        (2, "SPRING24"),
        (3, None),
    ]
    assert query(tmp_path, "select new_columns from ops.load_manifest") == [(["coupon_code"],)]


def test_files_with_different_headers_are_read_separately(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_day(data, DAY, [order("O1"), order("O2")])
    second = DAY + timedelta(days=1)
    reordered = ",".join(reversed(ORDERS.columns))  # same columns, other order
    line = ",".join(reversed(order("O3", day=second).split(",")))
    write_day(data, second, [line], header=reordered)
    write_day(
        data,
        second + timedelta(days=1),
        [order("O4", day=second + timedelta(days=1)) + ",x"],
        HEADER + ",note",
    )
    report = load(tmp_path)
    assert [f.new_columns for f in report.files] == [(), (), ("note",)]
    assert query(tmp_path, "select order_id, _source_line, _file_date from raw.orders order by 1") == [
        ("O1", 2, DAY),
        ("O2", 3, DAY),
        ("O3", 2, second),
        ("O4", 2, second + timedelta(days=1)),
    ]


def test_missing_required_column_fails_naming_file_and_column(tmp_path: Path) -> None:
    header = HEADER.replace("customer_id,", "")
    path = write_day(tmp_path / "data", DAY, ["O1,1,2024-01-01 09:00:00,completed,EUR,10,0,0,card,,"], header)
    with pytest.raises(IngestError) as caught:
        load(tmp_path)
    assert str(path) in str(caught.value) and "'customer_id'" in str(caught.value)
    assert query(tmp_path, "select count(*) from ops.load_manifest") == [(0,)]


def test_mapped_column_missing_from_the_export_is_named(tmp_path: Path) -> None:
    write_day(tmp_path / "data", DAY, [order("O1")])
    config = parse_source_config(
        {"entity": "orders", "files": {"pattern": "orders/*.csv"}, "mapping": {"customer_id": "CustomerNo"}},
        origin="renamed.yml",
        default_name="renamed",
    )
    with pytest.raises(IngestError, match=r"required field 'customer_id'.*column 'CustomerNo' is missing"):
        load(tmp_path, config)


def test_counts_add_up_per_file_and_in_total(tmp_path: Path) -> None:
    _history_exports(tmp_path / "data")
    report = load(tmp_path)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined == 9
    per_file = query(
        tmp_path,
        "select count(*) filter (where rows_read <> rows_loaded + rows_quarantined), sum(rows_loaded), "
        "sum(rows_quarantined) from ops.load_manifest where is_current",
    )
    assert per_file == [(0, 6, 3)]
    assert query(tmp_path, "select count(*) from raw.orders") == [(6,)]
    assert query(tmp_path, "select count(*) from quarantine.orders") == [(3,)]


def test_a_changed_config_reloads_its_files(tmp_path: Path) -> None:
    write_day(tmp_path / "data", DAY, [order("O1")])
    load(tmp_path)
    changed = parse_source_config(
        {
            "name": "orders",
            "entity": "orders",
            "files": {"pattern": "orders/orders_*.csv"},
            "mapping": {"payment_method": "'invoice'"},
        },
        origin="orders.yml",
        default_name="orders",
    )
    report = load(tmp_path, changed, run_id="run-2")
    assert report.files_loaded == 1
    assert query(tmp_path, "select payment_method from raw.orders") == [("invoice",)]


def test_json_lines_parquet_gzip_and_headerless_exports(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "jsonl").mkdir(parents=True)
    (data / "jsonl" / "orders_2024-01-01.jsonl").write_text(
        '{"order_id": "J1", "customer_id": 7, "ordered_at": "2024-01-01 10:00:00", "status": "completed",'
        ' "currency": "EUR", "gross_amount": 12.5}\n'
        "\n"
        '{"order_id": "J2", "customer_id": 8, oops}\n'
        '{"order_id": "J3", "customer_id": 9, "ordered_at": "2024-01-01 11:00:00", "status": "completed",'
        ' "currency": "EUR", "gross_amount": 1, "coupon": {"code": "X"}}\n',
        encoding="utf-8",
    )
    jsonl = _config("jsonl/*.jsonl", {"type": "jsonl"})
    report = load(tmp_path, jsonl)
    assert (report.rows_loaded, report.quarantined_by_reason, report.new_columns) == (
        2,
        {"malformed_line": 1},
        ("coupon",),
    )
    assert query(tmp_path, "select _source_line, raw_line from quarantine.orders") == [
        (3, '{"order_id": "J2", "customer_id": 8, oops}')
    ]

    (data / "pq").mkdir()
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'P' || i as order_id, 'C' || i as customer_id, "
            "timestamp '2024-01-01 10:00' as ordered_at, 'completed' as status, 'USD' as currency, "
            "5.25::decimal(10,2) as gross_amount from range(3) t(i)) "
            f"to '{data / 'pq' / 'orders_2024-01-01.parquet'}' (format parquet)"
        )
    report = load(tmp_path, _config("pq/*.parquet", {"type": "parquet"}))
    assert report.rows_loaded == 3
    assert query(
        tmp_path, "select max(_source_line), sum(gross_amount) from raw.orders where order_id like 'P%'"
    ) == [(3, 15.75)]

    (data / "gz").mkdir()
    with gzip.open(data / "gz" / "orders_2024-01-01.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("G1;C1;2024-01-01 10:00:00;completed;EUR;3\nG2;C2;2024-01-01 11:00:00;completed;EUR;4\n")
    names = ["order_id", "customer_id", "ordered_at", "status", "currency", "gross_amount"]
    report = load(tmp_path, _config("gz/*.gz", {"delimiter": ";", "header": False, "columns": names}))
    assert report.rows_loaded == 2
    assert query(tmp_path, "select _source_line from raw.orders where order_id like 'G%' order by 1") == [
        (1,),
        (2,),
    ]


def _config(pattern: str, fmt: dict[str, object], **extra: object) -> SourceConfig:
    return parse_source_config(
        {"entity": "orders", "files": {"pattern": pattern}, "format": fmt, **extra},
        origin=f"{pattern}.yml",
        default_name=pattern.split("/")[0],
    )


def test_a_moved_data_directory_is_recognised_by_content_not_reloaded(tmp_path: Path) -> None:
    _history_exports(tmp_path / "data")
    first = load(tmp_path)
    before = query(tmp_path, "select count(*) from raw.orders")
    (tmp_path / "data").rename(tmp_path / "moved")
    again = ingest_source(
        orders_config(),
        engine=engine_at(tmp_path / "w.duckdb"),
        data_dir=tmp_path / "moved",
        run_id="after-move",
    )
    assert again.files_loaded == 0 and {f.status for f in again.files} == {"moved"}
    assert query(tmp_path, "select count(*) from raw.orders") == before
    assert query(tmp_path, "select count(*) from raw.orders where _source_file like '%/moved/%'") == before
    assert query(tmp_path, "select count(*) from ops.load_manifest where file_path like '%/data/%'") == [(0,)]
    # Loaded once more from the new place: nothing to do.
    third = ingest_source(
        orders_config(), engine=engine_at(tmp_path / "w.duckdb"), data_dir=tmp_path / "moved", run_id="third"
    )
    assert {f.status for f in third.files} == {"unchanged"} and first.files_loaded == len(third.files)


def test_a_new_day_with_the_content_of_a_deleted_one_is_loaded_not_moved(tmp_path: Path) -> None:
    from datetime import timedelta

    gone = write_day(tmp_path / "data", DAY, [])  # header only
    load(tmp_path, run_id="first")
    gone.unlink()
    write_day(tmp_path / "data", DAY + timedelta(days=1), [])  # the same bytes, another day
    report = load(tmp_path, run_id="second")
    assert [f.status for f in report.files] == ["loaded"]
    assert query(tmp_path, f"select count(*) from ops.load_manifest where file_date = '{DAY}'") == [(1,)]
