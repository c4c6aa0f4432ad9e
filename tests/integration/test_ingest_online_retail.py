"""The real UCI Online Retail export, loaded through examples/online_retail/orders.yml.

541,909 invoice lines: cancellations (C invoices) and returns (negative quantity)
become refunds, lines without a customer are quarantined, exact duplicate lines
are kept as the genuine repeats they are in this export (``duplicates: keep``; with
the default policy they are quarantined once each), and every line read is either
loaded or quarantined.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.support import engine_at, shared_data

from tierwise.ingest import ingest_source, load_source_config

REPO = Path(__file__).resolve().parents[2]
DATA = shared_data("online_retail")
EXPORT = DATA / "online_retail.csv.gz"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not EXPORT.exists(), reason=f"{EXPORT} is not on this machine"),
]

READ = 541_909
DUPLICATES = 5_268  # extra copies of identical lines
NO_CUSTOMER = 135_080  # lines with an empty CustomerID
NO_CUSTOMER_FIRST_COPIES = 135_037  # the same, counting each repeated line once
LOADED = READ - NO_CUSTOMER
REFUNDS = 8_905  # loaded lines of C invoices or with a negative quantity


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    warehouse = tmp_path_factory.mktemp("retail") / "w.duckdb"
    config = load_source_config(REPO / "examples" / "online_retail" / "orders.yml")
    report = ingest_source(config, engine=engine_at(warehouse), data_dir=DATA, run_id="online-retail")
    return report, warehouse


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_numbers_add_up_exactly(loaded) -> None:
    report, warehouse = loaded
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (READ, LOADED, READ - LOADED)
    assert report.quarantined_by_reason == {"missing_customer_id": NO_CUSTOMER}
    assert query(warehouse, "select count(*) from raw.orders") == [(LOADED,)]
    assert query(warehouse, "select reason, count(*) from quarantine.orders group by 1 order by 2") == [
        ("missing_customer_id", NO_CUSTOMER),
    ]
    assert query(warehouse, "select rows_read, rows_loaded, rows_quarantined from ops.load_manifest") == [
        (READ, LOADED, READ - LOADED)
    ]


def test_expected_numbers_match_an_independent_reading_of_the_file(loaded) -> None:
    # The constants above, recomputed straight from the CSV without the ingestion code.
    with duckdb.connect() as con:
        row = con.execute(
            "with lines as (select * from read_csv(?, all_varchar = true)), "
            "firsts as (select distinct * from lines) "
            "select (select count(*) from lines), "
            "(select count(*) from lines) - (select count(*) from firsts), "
            "count(*) filter (where CustomerID is null), "
            "(select count(*) from firsts where CustomerID is null), "
            "count(*) filter (where CustomerID is not null and "
            "(InvoiceNo like 'C%' or cast(Quantity as integer) < 0)) from lines",
            [str(EXPORT)],
        ).fetchone()
    assert row == (READ, DUPLICATES, NO_CUSTOMER, NO_CUSTOMER_FIRST_COPIES, REFUNDS)


def test_the_default_duplicate_policy_quarantines_each_repeat_once(tmp_path: Path) -> None:
    from dataclasses import replace

    config = replace(
        load_source_config(REPO / "examples" / "online_retail" / "orders.yml"), duplicates="quarantine"
    )
    report = ingest_source(config, engine=engine_at(tmp_path / "w.duckdb"), data_dir=DATA, run_id="strict")
    # A repeated line without a customer counts as a duplicate, not as a missing customer.
    assert report.quarantined_by_reason == {
        "missing_customer_id": NO_CUSTOMER_FIRST_COPIES,
        "duplicate": DUPLICATES,
    }
    assert report.rows_loaded == READ - DUPLICATES - NO_CUSTOMER_FIRST_COPIES == 401_604
    assert report.rows_read == report.rows_loaded + report.rows_quarantined == READ


def test_cancellations_and_returns_become_refunds(loaded) -> None:
    _, warehouse = loaded
    by_status = query(
        warehouse,
        "select status, count(*), count(*) filter (where gross_amount > 0), "
        "count(*) filter (where refunded_amount > 0) from raw.orders group by 1 order by 1",
    )
    completed, refunded = by_status
    assert refunded[:2] == ("refunded", REFUNDS) and refunded[2] == 0
    assert completed[0] == "completed" and completed[1] == LOADED - REFUNDS and completed[3] == 0
    assert query(
        warehouse, "select count(*) from raw.orders where order_id like 'C%' and status <> 'refunded'"
    ) == [(0,)]


def test_line_level_rows_get_a_deterministic_key(loaded) -> None:
    _, warehouse = loaded
    assert query(warehouse, "select count(*) = count(distinct (order_id, line_no)) from raw.orders") == [
        (True,)
    ]
    first = query(
        warehouse,
        "select line_no, customer_id, ordered_at::varchar, currency, gross_amount::varchar, _source_line "
        "from raw.orders where order_id = '536365' order by line_no limit 2",
    )
    assert first == [
        (1, "17850", "2010-12-01 08:26:00", "GBP", "15.30", 2),
        (2, "17850", "2010-12-01 08:26:00", "GBP", "20.34", 3),
    ]


def test_quarantine_keeps_the_raw_line_and_a_reason(loaded) -> None:
    _, warehouse = loaded
    sample = query(
        warehouse,
        "select reason, detail, raw_line from quarantine.orders where reason = 'missing_customer_id' "
        "order by _source_line limit 1",
    )
    assert sample[0][0] == "missing_customer_id" and "CustomerID" in sample[0][1]
    assert sample[0][2].startswith("536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom")
