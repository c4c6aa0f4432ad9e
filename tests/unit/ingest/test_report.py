from __future__ import annotations

from dataclasses import asdict
from datetime import date

from tierwise.ingest.report import FileResult, IngestReport


def test_totals_and_summary_line() -> None:
    files = (
        FileResult(
            "a", "loaded", date(2024, 1, 1), "x", 10, 8, 2, {"duplicate": 1, "missing_customer_id": 1}
        ),
        FileResult("b", "loaded", date(2024, 1, 2), "y", 5, 4, 1, {"duplicate": 1}, ("Coupon",)),
        FileResult("c", "unchanged", date(2024, 1, 3), "z"),
    )
    report = IngestReport.from_files(
        source="orders", entity="orders", run_id="r", interval=None, files=files, elapsed_seconds=1.25
    )
    assert (report.files_seen, report.files_loaded, report.files_skipped) == (3, 2, 1)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (15, 12, 3)
    assert report.quarantined_by_reason == {"duplicate": 2, "missing_customer_id": 1}
    assert report.new_columns == ("Coupon",)
    assert report.summary_line() == (
        "orders: 3 files (2 loaded, 1 skipped), 15 rows read = 12 loaded + 3 quarantined "
        "(duplicate 2, missing_customer_id 1); new columns: Coupon in 1.2s"
    )
    assert asdict(report)["rows_read"] == 15  # the pipeline passes asdict() through XCom
