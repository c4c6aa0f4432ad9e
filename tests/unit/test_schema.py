"""The canonical export schema is the contract between ingestion and dbt's sources."""

from __future__ import annotations

from pathlib import Path

import yaml

from tierwise.schema import ENTITIES, OPTIONAL_ENTITIES

STAGING = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "staging"


def _source_columns() -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    for path in STAGING.rglob("_*__sources.yml"):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            if source.get("schema") == "raw":
                for table in source["tables"]:
                    tables[table["name"]] = [column["name"] for column in table.get("columns", [])]
    return tables


def test_every_entity_field_is_a_documented_column_of_its_dbt_source() -> None:
    sources = _source_columns()
    for name, entity in ENTITIES.items():
        assert name in sources, f"raw.{name} is not a dbt source"
        missing = [column for column in entity.columns if column not in sources[name]]
        assert missing == [], f"raw.{name}: fields dbt does not declare: {missing}"


def test_keys_and_versions_are_required_fields() -> None:
    for entity in ENTITIES.values():
        required = {field.name for field in entity.fields if field.required}
        assert entity.key[0] in required, entity.name
        assert entity.field(entity.version_column).type == "TIMESTAMP"


def test_only_crm_entities_are_optional() -> None:
    assert set(OPTIONAL_ENTITIES) == set(ENTITIES) - {"orders"}
