"""What a publish reports, per stream and in all: the lines the console and the logs show."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tierwise.publish.report import PublishReport, StreamReport

FILES = (Path("t.csv"), Path("t.parquet"), Path("latest.csv"))


def test_a_dry_run_says_what_it_would_send() -> None:
    stream = StreamReport(
        "database",
        "database.customer_tiers",
        "dry_run",
        total=10,
        new=2,
        changed=1,
        unchanged=6,
        retried=1,
        deleted=1,
    )
    assert stream.to_send == 5
    assert stream.summary_line() == (
        "database.customer_tiers: 10 rows, 2 new, 1 changed, 6 unchanged, 1 removed; "
        "dry run: would send 5 (1 retries)"
    )


def test_a_sync_line_counts_sent_rejected_abandoned_and_applied_rows() -> None:
    stream = StreamReport(
        "database",
        "database.customer_tiers",
        "failed",
        total=4,
        new=1,
        changed=2,
        unchanged=1,
        sent=2,
        rejected=1,
        abandoned=1,
        applied=2,
        elapsed=0.3,
        error="HTTP 503",
    )
    assert stream.summary_line() == (
        "database.customer_tiers: 4 rows, 1 new, 2 changed, 1 unchanged; sent 2, rejected 1 (1 abandoned), "
        "2 rows changed there in 0.3s; FAILED: HTTP 503"
    )


def test_files_kept_as_they_are_say_so() -> None:
    kept = StreamReport("files", "files.customer_tiers", "ok", total=3, unchanged=3, applied=0, paths=FILES)
    assert kept.summary_line() == "files.customer_tiers: 3 rows unchanged, kept 3 files as they are"
    dry = StreamReport("files", "files.customer_tiers", "dry_run", total=3, new=3, applied=3, paths=FILES)
    assert dry.summary_line() == (
        "files.customer_tiers: would write 3 files (3 rows: 3 new, 0 changed, 0 removed) in 0.0s"
    )


def test_the_headline_and_the_lines_of_an_overridden_dry_run() -> None:
    report = PublishReport(
        "r1",
        date(2024, 1, 31),
        True,
        (
            StreamReport("crm", "crm.hubspot", "dry_run", new=1000, changed=500, sent=1200, rejected=3),
            StreamReport("files", "files.customer_tiers", "dry_run", paths=FILES, diff=(("new", "C1"),)),
        ),
        elapsed=2.0,
        gate_override="published past the marts gate",
    )
    assert report.headline() == (
        "GATE OVERRIDDEN, as of 2024-01-31 (dry run): crm.hubspot 1,200 sent/1,500 changed/3 rejected; "
        "files.customer_tiers 0 sent/0 changed in 2.0s"
    )
    assert report.paths == FILES
    assert [stream.stream for stream in report.for_destination("files")] == ["files.customer_tiers"]
    assert report.failed == ()
    lines = report.summary_lines()
    assert lines[0] == "publish 2024-01-31 (dry run): 2 streams in 2.0s"
    assert lines[-2:] == ["WARNING published past the marts gate", "  files.customer_tiers new C1"]


def test_report_summary_lines() -> None:
    from datetime import date
    from pathlib import Path

    report = PublishReport(
        "r1",
        date(2024, 1, 31),
        False,
        (
            StreamReport(
                "files", "files.customer_tiers", "ok", total=3, new=3, applied=1, paths=(Path("a.csv"),)
            ),
            StreamReport("crm", "crm.hubspot", "failed", total=3, sent=1, rejected=1, error="HTTP 503"),
        ),
        ("notifications: not configured",),
        1.5,
    )
    lines = report.summary_lines()
    assert lines[0].startswith("publish 2024-01-31: 2 streams")
    assert "wrote 1 files (3 rows: 3 new, 0 changed, 0 removed)" in lines[1]
    assert "FAILED: HTTP 503" in lines[2]
    assert lines[3] == "skipped notifications: not configured"
    assert report.failed[0].destination == "crm"


def test_a_headline_with_every_destination_skipped_says_why() -> None:
    skipped = PublishReport(
        "r1", date(2024, 1, 31), False, (), elapsed=0.1, skipped=("notifications: no connection",)
    )
    assert skipped.headline() == (
        "as of 2024-01-31: nothing sent: skipped notifications: no connection in 0.1s"
    )
    assert PublishReport("r1", date(2024, 1, 31), False, (), elapsed=0.1).headline() == (
        "as of 2024-01-31: nothing to send in 0.1s"
    )
