"""Incremental version models: after new, corrected and shrunk exports, equal to a full rebuild.

Exports are generated, ingested and staged for real; then a new day arrives, one order
export is re-delivered with a line dropped and a line corrected, and one contacts export
is re-delivered without one of its records. The incremental build must equal a
``--full-refresh`` build row for row, and must not have rebuilt keys no load touched.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.support import isolate_tierwise, run_context

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

VERSION_MODELS = ("stg_shop__order_versions", "stg_crm__contact_versions", "stg_crm__ticket_versions")
SOURCES = ("orders", "contacts", "tickets")
# A row no raw file holds: it survives an incremental build only if untouched keys are left alone.
SENTINEL_ORDER = "O-UNTOUCHED"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from tierwise_dev.generate import generate

    root = tmp_path_factory.mktemp("incremental")
    patch = isolate_tierwise(root)
    generate(root / "data", customers=120, orders=1_500, seed=5, dirty=0, end=date(2025, 12, 31))
    yield root
    patch.undo()


def _ingest(run_id: str) -> None:
    from tierwise.pipeline import RunContext, ingest

    for source in SOURCES:
        ingest(RunContext.create(run_id, as_of_date=None), source)


def _stage(*, full_refresh: bool = False) -> None:
    from tierwise.transform import run_dbt

    run_dbt(run_context("staging", full_refresh=full_refresh), "run", select=VERSION_MODELS)


def _rows(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            model: con.execute(f"select * from staging.{model} order by all").fetchall()
            for model in VERSION_MODELS
        }


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _change_exports(data: Path) -> dict[str, str]:
    orders = max((data / "orders").glob("orders_2025-06-*.csv"), key=lambda path: path.stat().st_size)
    header, rows = _read(orders)
    dropped, corrected = rows[0], rows[1]
    corrected["gross_amount"] = f"{float(corrected['gross_amount']) + 1:.2f}"
    _write(orders, header, rows[1:])

    _, later = _read(sorted((data / "orders").glob("orders_2025-12-*.csv"))[-1])
    new_version = dict(later[0], status="refunded", refunded_amount=later[0]["gross_amount"])
    new_version["updated_at"] = "2026-01-01 09:00:00"
    new_order = dict(
        later[0], order_id="O-NEW", ordered_at="2026-01-01 10:00:00", updated_at="2026-01-01 10:00:00"
    )
    _write(data / "orders" / "orders_2026-01-01.csv", header, [new_version, new_order])

    contacts = max((data / "contacts").glob("contacts_2025-*.csv"), key=lambda path: path.stat().st_size)
    contact_header, contact_rows = _read(contacts)
    _write(contacts, contact_header, contact_rows[1:])
    return {
        "dropped_order": (dropped["order_id"], int(dropped["line_no"]), orders.name),
        "dropped_contact": (contact_rows[0]["customer_id"], contacts.name),
    }


@pytest.fixture(scope="module")
def builds(home: Path) -> dict[str, Any]:
    warehouse = home / "warehouse" / "tierwise.duckdb"
    _ingest("run-1")
    _stage()
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into staging.stg_shop__order_versions by name "
            "select * replace (? as order_id) from staging.stg_shop__order_versions "
            "order by source_file limit 1",
            [SENTINEL_ORDER],
        )
    changed = _change_exports(home / "data")
    _ingest("run-2")
    _stage()
    incremental = _rows(warehouse)
    _stage(full_refresh=True)
    return {"changed": changed, "incremental": incremental, "full": _rows(warehouse)}


def test_untouched_keys_are_not_rebuilt(builds: dict[str, Any]) -> None:
    orders = builds["incremental"]["stg_shop__order_versions"]
    assert any(row[0] == SENTINEL_ORDER for row in orders)
    assert not any(row[0] == SENTINEL_ORDER for row in builds["full"]["stg_shop__order_versions"])


@pytest.mark.parametrize("model", VERSION_MODELS)
def test_incremental_build_equals_a_full_rebuild(builds: dict[str, Any], model: str) -> None:
    incremental = [row for row in builds["incremental"][model] if row[0] != SENTINEL_ORDER]
    assert incremental == builds["full"][model]


def test_the_changes_reached_staging(builds: dict[str, Any]) -> None:
    orders = builds["full"]["stg_shop__order_versions"]
    # columns: order_id, line_no, ..., order_status (4), ..., updated_at (11), source_file (12)
    assert "O-NEW" in {row[0] for row in orders}
    assert any(row[11].year == 2026 and row[4] == "refunded" for row in orders)
    order_id, line_no, file_name = builds["changed"]["dropped_order"]
    assert not [
        row for row in orders if (row[0], row[1], Path(row[12]).name) == (order_id, line_no, file_name)
    ]
    customer_id, contacts_file = builds["changed"]["dropped_contact"]
    contacts = builds["full"]["stg_crm__contact_versions"]  # source_file is the 8th column from the end
    assert not [row for row in contacts if row[0] == customer_id and Path(row[-8]).name == contacts_file]
