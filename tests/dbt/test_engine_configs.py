"""The incremental configs each engine gets (macros/engine.sql, macros/spark.sql), from dbt's parse.

Parsing needs no warehouse and no Spark: the configs are evaluated when dbt parses, per target
adapter, so the manifest says what dbt would build on each engine and table format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.dbt.support import PROJECT

VERSION_MODELS = {
    "stg_shop__order_versions": ["order_id", "line_no"],
    "stg_crm__contact_versions": ["customer_id"],
    "stg_crm__ticket_versions": ["ticket_id"],
}
HISTORY = "customer_tier_history"


def parsed_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, dbt_vars: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    from dbt.cli.main import dbtRunner

    for name, value in {
        "TIERWISE_DBT_TARGET": target,
        "TIERWISE_WAREHOUSE": str(tmp_path / "unused.duckdb"),
        "TIERWISE_DBT_THREADS": "1",
        "TIERWISE_DUCKDB_MEMORY_LIMIT": "1GB",
        "TIERWISE_DUCKDB_THREADS": "1",
        "TIERWISE_SPARK_HOST": "sc://unused:15002",
    }.items():
        monkeypatch.setenv(name, value)
    target_path = tmp_path / f"target-{target}"
    outcome = dbtRunner().invoke(
        [
            "--log-level",
            "none",
            "--log-path",
            str(tmp_path / "logs"),
            "parse",
            "--no-partial-parse",
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target-path",
            str(target_path),
            "--vars",
            json.dumps(dbt_vars),
        ]
    )
    assert outcome.success, outcome.exception
    manifest = json.loads((target_path / "manifest.json").read_text(encoding="utf-8"))
    wanted = {*VERSION_MODELS, HISTORY}
    return {node["name"]: node["config"] for node in manifest["nodes"].values() if node["name"] in wanted}


def _incremental(config: dict[str, Any]) -> tuple[Any, ...]:
    hooks = [hook["sql"] for hook in config["post-hook"]]
    return (config["materialized"], config.get("incremental_strategy"), config.get("unique_key"), hooks)


def test_duckdb_builds_the_same_whatever_the_spark_table_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = parsed_configs(tmp_path, monkeypatch, "duckdb", {})
    delta = parsed_configs(tmp_path, monkeypatch, "duckdb", {"spark_table_format": "delta"})
    assert {name: _incremental(config) for name, config in delta.items()} == {
        name: _incremental(config) for name, config in default.items()
    }
    for name, key in VERSION_MODELS.items():
        assert _incremental(default[name])[:3] == ("incremental", "delete+insert", key)
    assert _incremental(default[HISTORY]) == ("incremental", "delete+insert", "evaluation_month", [])


def test_spark_on_parquet_rebuilds_the_versions_and_overwrites_the_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = parsed_configs(tmp_path, monkeypatch, "spark", {})
    for name in VERSION_MODELS:
        assert (configs[name]["materialized"], configs[name]["file_format"]) == ("table", "parquet")
        assert configs[name]["post-hook"] == []
    history = configs[HISTORY]
    assert history["incremental_strategy"] == "insert_overwrite"
    assert history["partition_by"] == ["evaluation_month"]


@pytest.mark.parametrize("table_format", ["delta", "iceberg"])
def test_spark_with_row_level_formats_merges_the_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table_format: str
) -> None:
    configs = parsed_configs(tmp_path, monkeypatch, "spark", {"spark_table_format": table_format})
    for name, key in VERSION_MODELS.items():
        materialized, strategy, unique_key, hooks = _incremental(configs[name])
        assert (materialized, strategy, unique_key) == ("incremental", "merge", [*key, "valid_from"])
        assert len(hooks) == 1 and "tierwise_delete_vanished_versions" in hooks[0]
        assert configs[name]["file_format"] == table_format
    history = configs[HISTORY]
    assert (history["incremental_strategy"], history["file_format"]) == ("insert_overwrite", table_format)


def test_marts_persist_their_descriptions_on_duckdb_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Comments for BI tools on DuckDB; none on Spark, whose marts reach the ledger without them."""
    on_duckdb = parsed_configs(tmp_path, monkeypatch, "duckdb", {})[HISTORY]
    on_spark = parsed_configs(tmp_path, monkeypatch, "spark", {})[HISTORY]
    assert on_duckdb["persist_docs"] == {"relation": True, "columns": True}
    assert on_spark["persist_docs"] == {"relation": False, "columns": False}
