"""Customer e-mails and phones never land in GX results, Data Docs, ops.quality_results or logs.

A generated sample with bad e-mails (``tierwise-dev generate --dirty``) plus a few malformed phones
goes through ``tierwise ingest`` and the raw gate; then every file GX wrote (validation JSON,
Data Docs HTML), every log file, the console and ``ops.quality_results`` are searched for each
e-mail and phone of the sample. The failing rows must still say where they are (file, line).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from tests.support import files_text, leaks, personal_values

from tierwise.cli import main
from tierwise_dev.cli import main as dev_main

REPO = Path(__file__).resolve().parents[2]


def _stored_results(warehouse: Path) -> dict[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select check_name, unexpected_count, details from ops.quality_results").fetchall()
    return {str(check): f"{count}|{details}" for check, count, details in rows}


def test_no_email_or_phone_in_quality_results_docs_or_logs(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    expectations = tierwise_env / "expectations"
    shutil.copytree(REPO / "expectations", expectations, ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.setenv("TIERWISE_EXPECTATIONS_DIR", str(expectations))
    data, warehouse = tierwise_env / "data", tierwise_env / "warehouse" / "tierwise.duckdb"
    sample = ["--customers", "200", "--orders", "1500", "--seed", "11", "--dirty", "0.05"]
    period = ["--start", "2025-10-01", "--end", "2025-12-31", "--no-progress"]
    assert dev_main(["generate", "--out", str(data), *sample, *period]) == 0
    assert main(["ingest"]) == 0
    with duckdb.connect(str(warehouse)) as con:  # phones in a shape the format check refuses
        con.execute("update raw.contacts set phone = 'tel. ' || phone where hash(customer_id) % 4 = 0")
    main(["validate", "--gate", "raw"])  # passes with warnings or fails: the results are written either way

    stored = _stored_results(warehouse)
    for check in ("contacts.email_format_warn", "contacts.phone_format_warn"):
        assert int(stored[check].split("|")[0]) > 0, f"{check} found nothing to report: {stored[check]}"
        failing = json.loads(stored[check].split("|", 1)[1])["failing_rows"]
        assert failing and all("_source_file" in row and "_source_line" in row for row in failing)
    console = capfd.readouterr()
    surfaces = {
        **files_text(expectations / "gx" / "uncommitted"),
        **files_text(tierwise_env / "logs"),
        "ops.quality_results": "\n".join(stored.values()),
        "console": console.out + console.err,
    }
    assert any("validations" in name and name.endswith(".json") for name in surfaces)
    assert any("data_docs" in name and name.endswith(".html") for name in surfaces)
    values = personal_values(warehouse)
    assert len(values) > 100
    found = leaks(values, surfaces)
    assert found == [], f"{len(found)} leaks, e.g. {found[:5]}"
