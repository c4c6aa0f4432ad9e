"""Multi-file sources: file sets land as they are, canonical rows are derived by declared joins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.support import engine_at

from tierwise.exceptions import ConfigError
from tierwise.ingest import IngestReport, ingest_source, parse_source_config
from tierwise.ingest.config import SourceConfig

HEADERS = "order_id,customer_id,status,placed_at\n"
ITEMS = "order_id,item,price\n"
PAYMENTS = "order_id,seq,paid\n"
CUSTOMERS = "customer_id,person\n"


def shop_config(**extra: Any) -> SourceConfig:
    data: dict[str, Any] = {
        "entity": "orders",
        "inputs": {
            "headers": {"files": {"pattern": "headers.csv"}},
            "customers": {"files": {"pattern": "customers.csv"}, "join": {"on": "customer_id"}},
            "items": {
                "files": {"pattern": "items*.csv"},
                "column_types": {"price": "DECIMAL(18,2)"},
                "join": {"on": "order_id", "aggregate": {"amount": "sum(price)", "lines": "count(*)"}},
            },
            "payments": {
                "files": {"pattern": "payments.csv"},
                "column_types": {"paid": "DECIMAL(18,2)"},
                "join": {"on": ["order_id"], "aggregate": {"paid": "sum(paid)"}},
            },
        },
        "mapping": {
            "customer_id": "customers.person",
            "ordered_at": "placed_at",
            "gross_amount": "coalesce(items.amount, payments.paid)",
        },
        "defaults": {"currency": "EUR", "line_no": 1},
        **extra,
    }
    return parse_source_config(data, origin="shop.yml", default_name="shop")


def write(root: Path, name: str, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def shop_export(root: Path) -> None:
    write(
        root,
        "headers.csv",
        HEADERS
        + "O1,K1,completed,2024-01-01 10:00:00\n"  # two items
        + "O2,K2,completed,2024-01-02 10:00:00\n"  # no items: the payment gives the amount
        + "O3,K3,lost,2024-01-03 10:00:00\n"  # unknown status: quarantined with its item
        + "O4,K1,completed,2024-01-04 10:00:00\n"  # neither items nor payments
        + "O5,K9,completed,2024-01-05 10:00:00\n",  # a customer nobody exported
    )
    write(root, "customers.csv", CUSTOMERS + "K1,P1\nK2,P2\nK3,P3\nK2,P2-again\nK7,P7\n")
    write(root, "items.csv", ITEMS + "O1,a,10.00\nO1,b,5.50\nO3,c,7.00\nO8,d,1.00\nO5,e,2.00\nO1,f,x\n")
    write(root, "payments.csv", PAYMENTS + "O2,1,20.00\nO2,2,3.00\nO1,1,15.50\n")


def load(tmp_path: Path, config: SourceConfig | None = None, run_id: str = "run") -> IngestReport:
    return ingest_source(
        config or shop_config(),
        engine=engine_at(tmp_path / "w.duckdb"),
        data_dir=tmp_path / "data",
        run_id=run_id,
    )


def query(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def by_file(report: IngestReport) -> dict[str, tuple[int, int, int, dict[str, int]]]:
    return {
        Path(f.path).name: (f.rows_read, f.rows_loaded, f.rows_quarantined, f.quarantined_by_reason)
        for f in report.files
    }


def test_canonical_rows_are_derived_from_every_input(tmp_path: Path) -> None:
    shop_export(tmp_path / "data")
    report = load(tmp_path)
    rows = query(
        tmp_path,
        "select order_id, customer_id, gross_amount::varchar, _source_line from raw.orders order by 1",
    )
    # O5's customer is unknown: the person is missing, so the order is quarantined too.
    assert rows == [("O1", "P1", "15.50", 2), ("O2", "P2", "23.00", 3)]
    reasons = dict(
        query(
            tmp_path,
            "select order_id, reason from (select split_part(raw_line, ',', 1) "
            "as order_id, reason from quarantine.orders "
            "where _source_file like '%headers.csv')",
        )
    )
    assert reasons == {"O3": "unknown_status", "O4": "missing_gross_amount", "O5": "missing_customer_id"}
    assert report.files_seen == 4


def test_every_row_of_every_input_is_used_or_quarantined_with_a_reason(tmp_path: Path) -> None:
    shop_export(tmp_path / "data")
    files = by_file(load(tmp_path))
    assert files["headers.csv"] == (
        5,
        2,
        3,
        {"missing_customer_id": 1, "missing_gross_amount": 1, "unknown_status": 1},
    )
    # K2's second row repeats a key; K7 belongs to no order; K3's only order was quarantined.
    assert files["customers.csv"] == (5, 2, 3, {"duplicate_key": 1, "parent_quarantined": 1, "unmatched": 1})
    # O3's item belongs to a quarantined order, O8 is unknown, O5 was quarantined, 'x' is no price.
    assert files["items.csv"] == (6, 2, 4, {"parent_quarantined": 2, "invalid_price": 1, "unmatched": 1})
    assert files["payments.csv"] == (3, 3, 0, {})
    for read, used, quarantined, _ in files.values():
        assert read == used + quarantined
    manifest = query(
        tmp_path,
        "select sum(rows_read), sum(rows_loaded + rows_quarantined) from ops.load_manifest where is_current",
    )
    assert manifest == [(19, 19)]
    details = query(tmp_path, "select detail from quarantine.orders where reason = 'unmatched' order by 1")
    assert details == [
        ("no headers row matches: customer_id = K7",),
        ("no headers row matches: order_id = O8",),
    ]


def test_a_changed_input_file_re_derives_and_nothing_stale_stays(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shop_export(data)
    load(tmp_path, run_id="first")
    unchanged = load(tmp_path, run_id="again")
    assert {f.status for f in unchanged.files} == {"unchanged"}
    write(data, "payments.csv", PAYMENTS + "O2,1,20.00\nO2,2,30.00\nO1,1,15.50\n")
    changed = load(tmp_path, run_id="paid-more")
    assert query(tmp_path, "select gross_amount::varchar from raw.orders where order_id = 'O2'") == [
        ("50.00",)
    ]
    assert query(tmp_path, "select count(*), count(distinct order_id) from raw.orders") == [(2, 2)]
    assert changed.rows_read == 19 and {f.status for f in changed.files} == {"loaded"}
    write(data, "items_2.csv", ITEMS + "O2,g,4.00\n")  # a new file of an input
    load(tmp_path, run_id="new-items")
    assert query(tmp_path, "select gross_amount::varchar from raw.orders where order_id = 'O2'") == [
        ("4.00",)
    ]
    assert query(tmp_path, "select count(*) from quarantine.orders where run_id <> 'new-items'") == [(0,)]


def test_a_lookup_input_is_read_not_accounted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shop_export(data)
    write(data, "reviews.csv", "review_id,order_id,score\nR1,O1,1\nR2,O2,5\nR3,O9,2\n")
    config = parse_source_config(
        {
            "entity": "tickets",
            "inputs": {
                "reviews": {"files": {"pattern": "reviews.csv"}, "column_types": {"score": "INTEGER"}},
                "headers": {"files": {"pattern": "headers.csv"}, "join": {"on": "order_id"}, "lookup": True},
                "customers": {
                    "files": {"pattern": "customers.csv"},
                    "join": {"on": {"customer_id": "headers.customer_id"}},
                    "lookup": True,
                },
            },
            "mapping": {
                "ticket_id": "review_id",
                "customer_id": "customers.person",
                "opened_at": "headers.placed_at",
                "category": "case when score <= 2 then 'complaint' else 'feedback' end",
            },
        },
        origin="reviews.yml",
        default_name="reviews",
    )
    report = load(tmp_path, config)
    assert query(tmp_path, "select ticket_id, customer_id, category from raw.tickets order by 1") == [
        ("R1", "P1", "complaint"),
        ("R2", "P2", "feedback"),
    ]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    assert {Path(f.path).name: f.status for f in report.files} == {
        "reviews.csv": "loaded",
        "headers.csv": "lookup",
        "customers.csv": "lookup",
    }
    assert "2 read as lookups" in report.summary_line()


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"a": {"files": {"pattern": "a"}}, "b": {"files": {"pattern": "b"}}},
            r"inputs\.b\.join: is required",
        ),
        (
            {"a": {"files": {"pattern": "a"}, "join": {"on": "x"}}},
            r"inputs\.a\.join: a is the grain",
        ),
        (
            {
                "a": {"files": {"pattern": "a"}},
                "b": {"files": {"pattern": "b"}, "join": {"on": {"x": "c.x"}}},
            },
            r"inputs\.b\.join\.on\.x: 'c\.x' must name its input, one joined before this one: a",
        ),
        ({"A-b": {"files": {"pattern": "a"}}}, r"inputs\.A-b: input names are lower-case words"),
    ],
)
def test_bad_multi_file_configs_name_the_key(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_source_config({"entity": "orders", "inputs": inputs}, origin="x.yml", default_name="x")


def test_a_source_has_files_or_inputs_not_both() -> None:
    with pytest.raises(ConfigError, match=r"either files .* or inputs"):
        parse_source_config(
            {"entity": "orders", "files": {"pattern": "a"}, "inputs": {"a": {"files": {"pattern": "a"}}}},
            origin="x.yml",
            default_name="x",
        )


def test_duplicate_lines_can_be_kept_as_genuine_repeats(tmp_path: Path) -> None:
    line = "O1,C1,2024-01-01 10:00:00,completed,EUR,10.00"
    write(
        tmp_path / "data" / "orders",
        "orders_2024-01-01.csv",
        f"order_id,customer_id,ordered_at,status,currency,gross_amount\n{line}\n{line}\n",
    )
    base = {"entity": "orders", "files": {"pattern": "orders/*.csv"}}
    strict = load(tmp_path, parse_source_config(base, origin="o.yml", default_name="o"))
    assert strict.quarantined_by_reason == {"duplicate": 1}
    keep = {**base, "duplicates": "keep", "mapping": {"line_no": "row_number() over (order by _source_line)"}}
    kept = load(tmp_path, parse_source_config(keep, origin="o.yml", default_name="o"))
    assert (kept.rows_loaded, kept.rows_quarantined) == (2, 0)
    assert query(tmp_path, "select line_no from raw.orders order by 1") == [(1,), (2,)]


def test_a_failed_derivation_leaves_the_previous_one_in_place(tmp_path: Path, monkeypatch) -> None:
    from datetime import date

    from tierwise.ingest import derived

    data = tmp_path / "data"
    shop_export(data)
    load(tmp_path, run_id="first")
    before = query(tmp_path, "select * from raw.orders order by all")
    write(data, "payments.csv", PAYMENTS + "O2,1,99.00\n")

    def broken(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(derived, "_account_joined", broken)
    for interval in (None, (date(2024, 1, 1), date(2024, 1, 2))):
        with pytest.raises(RuntimeError, match="disk full"):
            ingest_source(
                shop_config(),
                engine=engine_at(tmp_path / "w.duckdb"),
                data_dir=data,
                interval=interval,
                run_id="x",
            )
        assert query(tmp_path, "select * from raw.orders order by all") == before
        assert query(tmp_path, "select count(*) from ops.load_manifest where run_id = 'x'") == [(0,)]


def test_an_interval_run_derives_the_whole_source(tmp_path: Path) -> None:
    from datetime import date

    data = tmp_path / "data"
    shop_export(data)
    load(tmp_path, run_id="first")
    before = query(tmp_path, "select order_id, gross_amount from raw.orders order by 1")
    write(data, "payments.csv", PAYMENTS + "O2,1,20.00\nO2,2,30.00\nO1,1,15.50\n")
    ingest_source(
        shop_config(),
        engine=engine_at(tmp_path / "w.duckdb"),
        data_dir=data,
        interval=(date(2023, 12, 1), date(2023, 12, 2)),
        run_id="daily",
    )
    # The run's interval neither narrows the derivation nor makes later orders "future".
    after = query(tmp_path, "select order_id, gross_amount::varchar from raw.orders order by 1")
    assert [row[0] for row in after] == [row[0] for row in before] and after[1] == ("O2", "50.00")


def test_a_deleted_input_file_is_no_longer_derived(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shop_export(data)
    write(data, "items_2.csv", ITEMS + "O2,g,4.00\n")
    load(tmp_path, run_id="first")
    assert query(tmp_path, "select gross_amount::varchar from raw.orders where order_id = 'O2'") == [
        ("4.00",)
    ]
    (data / "items_2.csv").unlink()
    report = load(tmp_path, run_id="after-delete")
    assert query(tmp_path, "select gross_amount::varchar from raw.orders where order_id = 'O2'") == [
        ("23.00",)
    ]
    assert any("items_2.csv: no longer listed" in warning for warning in report.warnings)
    assert query(
        tmp_path, "select count(*) from ops.load_manifest where file_path like '%items_2.csv' and is_current"
    ) == [(0,)]


def test_a_moved_data_folder_derives_each_row_once(tmp_path: Path) -> None:
    shop_export(tmp_path / "data")
    load(tmp_path, run_id="first")
    before = query(tmp_path, "select order_id, customer_id, gross_amount from raw.orders order by 1")
    (tmp_path / "data").rename(tmp_path / "moved")
    ingest_source(
        shop_config(), engine=engine_at(tmp_path / "w.duckdb"), data_dir=tmp_path / "moved", run_id="moved"
    )
    assert query(tmp_path, "select order_id, customer_id, gross_amount from raw.orders order by 1") == before
    assert query(tmp_path, "select count(*) from raw.orders where _source_file like '%/moved/%'") == [(2,)]


def test_a_header_only_input_file_is_recorded_and_not_derived_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shop_export(data)
    write(data, "items_2.csv", ITEMS)
    first = load(tmp_path, run_id="first")
    assert {Path(f.path).name: f.rows_read for f in first.files}["items_2.csv"] == 0
    again = load(tmp_path, run_id="again")
    assert {f.status for f in again.files} == {"unchanged"}


def test_a_lookup_joins_its_first_row_in_file_order(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shop_export(data)
    # Enough rows for DuckDB to read in parallel: row ids then no longer follow the file.
    filler = "".join(f"F{n},Q{n}\n" for n in range(300_000))
    write(data, "customers.csv", CUSTOMERS + "K1,first\n" + filler + "K1,second\nK2,P2\nK3,P3\n")
    load(tmp_path)
    assert query(tmp_path, "select customer_id from raw.orders where order_id = 'O1'") == [("first",)]
    duplicate = query(
        tmp_path, "select _source_line from quarantine.orders where reason = 'duplicate_key' order by 1"
    )
    assert duplicate == [(300_003,)]
