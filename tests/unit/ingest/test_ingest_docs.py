"""docs/ingestion.md stays true: its full config example is valid and every canonical field is documented."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tierwise.ingest import parse_source_config
from tierwise.schema import ENTITIES

DOC = Path(__file__).resolve().parents[3] / "docs" / "ingestion.md"


def test_the_full_config_example_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    example = next(block for block in blocks if "mapping:" in block and "values:" in block)
    config = parse_source_config(yaml.safe_load(example), origin="docs/ingestion.md", default_name="doc")
    assert config.name == "webshop_orders"
    assert config.values["payment_method"].map["kreditkarte"] == "card"
    assert "menge" in config.referenced_columns


def test_every_canonical_field_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for entity in ENTITIES.values():
        section = text.split(f"### {entity.name} (key:")[1].split("###")[0]
        documented = re.findall(r"^\| `(\w+)` \| ([A-Z(),0-9]+) \|", section, flags=re.M)
        assert documented == [(f.name, f.type) for f in entity.fields], entity.name
