from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tierwise.exceptions import ConfigError
from tierwise.ingest import load_source_config, load_source_configs, parse_source_config
from tierwise.schema import ENTITIES

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "ingestion.md"


def test_minimal_config_gets_documented_defaults(make_config) -> None:
    config = make_config()
    assert config.name == "test"
    assert (config.format.type, config.format.delimiter, config.format.header) == ("csv", ",", True)
    assert config.files.empty_files == "error"
    assert config.interval_column == "updated_at"
    assert config.parse.currency_symbols == ("£", "€", "$")


def test_shipped_configs_are_valid() -> None:
    configs = load_source_configs(REPO / "config" / "sources")
    assert set(configs) == {"orders", "contacts", "tickets"}
    assert {c.entity for c in configs.values()} == {"orders", "contacts", "tickets"}
    retail = load_source_config(REPO / "examples" / "online_retail" / "orders.yml")
    assert retail.parse.column_types == {"Quantity": "INTEGER", "UnitPrice": "DECIMAL(18,4)"}
    assert {"invoiceno", "quantity", "unitprice", "customerid", "invoicedate"} <= retail.referenced_columns


@pytest.mark.parametrize(
    ("overrides", "key", "problem"),
    [
        ({"entity": "invoices"}, "entity", "is not one of"),
        ({"files": {"pattern": ""}}, "files.pattern", "must not be empty"),
        ({"format": {"delimiter": ""}}, "format.delimiter", "1 to 4 bytes"),
        ({"format": {"encoding": "ebcdic"}}, "format.encoding", "is not one of"),
        ({"format": {"header": "yes"}}, "format.header", "true or false"),
        ({"format": {"skip_rows": -1}}, "format.skip_rows", "whole number"),
        ({"formatt": {}}, "formatt", "unknown key"),
        ({"mapping": {"amount": "Total"}}, "mapping.amount", "not a field of orders"),
        ({"mapping": {"gross_amount": "Unit Price"}}, "mapping.gross_amount", "double-quoted"),
        ({"mapping": {"gross_amount": "qty *"}}, "mapping.gross_amount", "not a valid SQL expression"),
        ({"mapping": {"gross_amount": "*"}}, "mapping.gross_amount", "not a field value"),
        ({"mapping": {"order_id": "a from t"}}, "mapping.order_id", "single expression"),
        ({"defaults": {"status": "shipped"}}, "defaults.status", "is not one of"),
        ({"values": {"status": {"map": {"Shipped": "sent"}}}}, "values.status.map.Shipped", "not one of"),
        ({"values": {"customer_id": {"map": {}}}}, "values.customer_id", "enumerated fields only"),
        (
            {"values": {"status": {"rules": [{"when": "x >", "then": "refunded"}]}}},
            "values.status.rules[0].when",
            "not a valid SQL expression",
        ),
        (
            {"values": {"status": {"rules": [{"when": "x > 0", "then": "gone"}]}}},
            "values.status.rules[0].then",
            "not one of",
        ),
        ({"parse": {"date_formats": ["%Q"]}}, "parse.date_formats[0]", "strptime"),
        ({"parse": {"column_types": {"Qty": "NUMBERISH"}}}, "parse.column_types.Qty", "not a DuckDB type"),
        ({"parse": {"column_types": {"Qty": "INT; drop table x"}}}, "parse.column_types.Qty", "type name"),
        ({"parse": {"thousands_separator": "."}}, "parse.thousands_separator", "must differ"),
        ({"interval_column": "status"}, "interval_column", "date fields"),
        ({"files": {"s3": {"secret": "abc"}}}, "files.s3.secret", "environment variables only"),
        ({"files": {"s3": {"key_id_env": "not a name"}}}, "files.s3.key_id_env", "environment variable"),
    ],
)
def test_config_errors_name_file_key_and_problem(write_config, overrides, key, problem) -> None:
    path = write_config(**overrides)
    with pytest.raises(ConfigError) as caught:
        load_source_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message


def test_missing_file_and_bad_yaml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_source_config(tmp_path / "nope.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("entity: [orders\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_source_config(broken)
    with pytest.raises(ConfigError, match="directory not found"):
        load_source_configs(tmp_path / "nowhere")


def test_duplicate_source_names_are_rejected(write_config, tmp_path: Path) -> None:
    write_config("a.yml", name="orders")
    write_config("b.yml", name="orders")
    with pytest.raises(ConfigError, match="also used by"):
        load_source_configs(tmp_path)


def test_value_maps_are_normalised_like_the_data(make_config) -> None:
    config = make_config(values={"status": {"map": {"Shipped Out": "Completed", "Storno": "cancelled"}}})
    assert config.values["status"].map == {"shipped_out": "completed", "storno": "cancelled"}


def test_fingerprint_follows_what_shapes_rows_only(make_config) -> None:
    base = make_config()
    assert base.fingerprint() == make_config(description="other words").fingerprint()
    assert base.fingerprint() != make_config(defaults={"currency": "EUR"}).fingerprint()
    assert base.fingerprint() != make_config(format={"delimiter": ";"}).fingerprint()


def test_tab_delimiter_may_be_spelled_out(make_config) -> None:
    assert make_config(format={"delimiter": "tab"}).format.delimiter == "\t"


# docs/ingestion.md stays true: its full config example is valid and every canonical field is documented.
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
