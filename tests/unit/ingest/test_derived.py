"""A multi-file source on two tiny inputs: landed as text, derived by a join, every row accounted for.

The full behaviour (lookups, re-derivation, moves, intervals) is tested in
tests/integration/test_ingest_multi_file.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tierwise.ingest import parse_source_config
from tierwise.ingest.derived import landing_table, load_multi_file
from tierwise.ingest.report import LOADED, UNCHANGED
from tierwise.ingest.runs import LoadRun
from tierwise.ingest.tables import ensure_every_entity

CONFIG = parse_source_config(
    {
        "entity": "orders",
        "inputs": {
            "headers": {"files": {"pattern": "headers.csv"}},
            "items": {
                "files": {"pattern": "items.csv"},
                "column_types": {"price": "DECIMAL(18,2)"},
                "join": {"on": "order_id", "aggregate": {"amount": "sum(price)"}},
            },
        },
        "mapping": {"ordered_at": "placed_at", "gross_amount": "items.amount"},
        "defaults": {"currency": "EUR"},
    },
    origin="shop.yml",
    default_name="shop",
)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    (tmp_path / "headers.csv").write_text(
        "order_id,customer_id,status,placed_at\n"
        "O1,K1,completed,2024-01-01 10:00:00\n"
        "O2,K2,lost,2024-01-02 10:00:00\n",
        encoding="utf-8",
    )
    (tmp_path / "items.csv").write_text(
        "order_id,price\nO1,10.00\nO1,5.50\nO2,3.00\nO9,1.00\nO1,x\n", encoding="utf-8"
    )
    return tmp_path


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        ensure_every_entity(connection)
        yield connection


def run(run_id: str) -> LoadRun:
    return LoadRun(CONFIG, None, run_id, datetime(2024, 1, 3, 4, 0), CONFIG.fingerprint())


def test_landing_tables_are_named_per_source_and_input() -> None:
    assert landing_table("shop", "items") == 'landing."shop__items"'


def test_rows_are_derived_by_the_join_and_every_input_row_is_accounted_for(
    con: duckdb.DuckDBPyConnection, export: Path
) -> None:
    results, warnings = load_multi_file(con, run("r1"), export)
    assert warnings == []
    counts = {Path(r.path).name: (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) for r in results}
    assert counts == {"headers.csv": (LOADED, 2, 1, 1), "items.csv": (LOADED, 5, 2, 3)}
    assert con.execute("select order_id, customer_id, gross_amount::varchar from raw.orders").fetchall() == [
        ("O1", "K1", "15.50")
    ]
    quarantined = con.execute(
        "select regexp_extract(_source_file, '[^/]+$'), _source_line, reason, detail "
        "from quarantine.orders order by 1, 2"
    ).fetchall()
    assert quarantined == [
        (
            "headers.csv",
            3,
            "unknown_status",
            "status: lost is not one of: completed, cancelled, refunded, partially_returned",
        ),
        ("items.csv", 4, "parent_quarantined", "every headers row it joins was quarantined: order_id = O2"),
        ("items.csv", 5, "unmatched", "no headers row matches: order_id = O9"),
        ("items.csv", 6, "invalid_price", "a typed column (column_types) does not parse"),
    ]
    landed = con.execute(
        f"select order_id, price, _source_line from {landing_table('shop', 'items')} order by 3"
    )
    assert landed.fetchall() == [
        ("O1", "10.00", 2),
        ("O1", "5.50", 3),
        ("O2", "3.00", 4),
        ("O9", "1.00", 5),
        ("O1", "x", 6),
    ]


def test_unchanged_inputs_are_not_derived_again(con: duckdb.DuckDBPyConnection, export: Path) -> None:
    load_multi_file(con, run("r1"), export)
    results, _ = load_multi_file(con, run("r2"), export)
    assert [result.status for result in results] == [UNCHANGED, UNCHANGED]
    assert con.execute("select distinct run_id from ops.load_manifest").fetchall() == [("r1",)]
