"""The GX project's names and result format (building it: tests/integration/test_quality_project.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tierwise.engine import table_exists
from tierwise.quality.project import _stub_warehouse, checkpoint_name, result_format
from tierwise.quality.suites import SUITES
from tierwise.settings import EngineName

COMMITTED = Path(__file__).resolve().parents[3] / "expectations" / "gx"


def test_each_gate_has_a_committed_checkpoint_per_engine_under_its_name() -> None:
    assert [checkpoint_name(gate) for gate in SUITES] == ["raw_gate", "marts_gate"]
    assert [checkpoint_name(gate, EngineName.SPARK) for gate in SUITES] == [
        "raw_gate_spark",
        "marts_gate_spark",
    ]
    committed = sorted(path.stem for path in (COMMITTED / "checkpoints").glob("*.json"))
    assert committed == sorted(checkpoint_name(gate, engine) for gate in SUITES for engine in EngineName)


def test_the_spark_checkpoints_validate_the_same_suites_through_spark_definitions() -> None:
    for gate, specs in SUITES.items():
        checkpoint = json.loads((COMMITTED / "checkpoints" / f"{gate}_gate_spark.json").read_text())
        assert [d["name"] for d in checkpoint["validation_definitions"]] == [f"{s.name}@spark" for s in specs]
        assert checkpoint["result_format"] == result_format(gate)
        for spec in specs:
            definition = json.loads(
                (COMMITTED / "validation_definitions" / f"{spec.name}@spark.json").read_text()
            )
            assert definition["suite"]["name"] == spec.name
            assert definition["data"]["datasource"]["name"] == f"{spec.schema}_spark"


def test_failing_rows_are_identified_by_file_and_line_in_raw_and_by_customer_in_marts() -> None:
    assert result_format("raw") == {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": ["_source_file", "_source_line"],
        "partial_unexpected_count": 5,
    }
    assert result_format("marts")["unexpected_index_column_names"] == ["customer_id"]
    raw_gate = json.loads((COMMITTED / "checkpoints" / "raw_gate.json").read_text(encoding="utf-8"))
    assert raw_gate["result_format"] == result_format("raw")


def test_the_stub_warehouse_has_a_table_for_every_suite() -> None:
    with _stub_warehouse() as con:
        names = [spec.name for specs in SUITES.values() for spec in specs]
        assert names == [
            "raw.orders",
            "raw.contacts",
            "raw.tickets",
            "marts.customer_value",
            "marts.customer_tiers",
        ]
        assert all(table_exists(con, *name.split(".")) for name in names)
