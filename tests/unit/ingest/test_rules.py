"""Any ISO 4217 currency in current use loads; anything else is quarantined as unknown_currency."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.support import engine_at

from tierwise.exceptions import ConfigError
from tierwise.ingest import ingest_source
from tierwise.ingest.rules import (
    FALLBACKS,
    IMPLICIT_DEFAULTS,
    allowed_values,
    describe_allowed,
    is_identifier,
    is_money,
    is_temporal,
    normalise_code,
)
from tierwise.schema import ENTITIES, ORDER_STATUSES, ORDERS, TICKETS

HEADER = "order_id,customer_id,ordered_at,status,currency,gross_amount"


def test_rows_in_any_current_iso_code_load_and_others_are_quarantined(make_config, tmp_path: Path) -> None:
    currencies = ["BRL", "brl", " JPY ", "CHF", "EUR", "EURO", "XYZ", "HRK", "XXX", "R$"]
    lines = [f"O{n},C{n},2024-01-01 10:00:00,completed,{code},10.00" for n, code in enumerate(currencies, 2)]
    export = tmp_path / "data" / "orders" / "orders_2024-01-01.csv"
    export.parent.mkdir(parents=True)
    export.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    report = ingest_source(
        make_config(), engine=engine_at(tmp_path / "w.duckdb"), data_dir=tmp_path / "data", run_id="r"
    )
    assert (report.rows_loaded, report.quarantined_by_reason) == (5, {"unknown_currency": 5})
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        loaded = con.execute("select currency from raw.orders order by _source_line").fetchall()
        rejected = con.execute("select _source_line from quarantine.orders order by 1").fetchall()
    assert [code for (code,) in loaded] == ["BRL", "BRL", "JPY", "CHF", "EUR"]
    assert [line for (line,) in rejected] == [7, 8, 9, 10, 11]


def test_configs_may_name_any_current_code(make_config) -> None:
    config = make_config(
        defaults={"currency": "brl"}, values={"currency": {"map": {"R$": "brl", "Real": "BRL"}}}
    )
    assert config.values["currency"].map == {"R$": "BRL", "REAL": "BRL"}
    with pytest.raises(ConfigError, match=r"defaults\.currency: 'EURO' is not"):
        make_config(defaults={"currency": "EURO"})


def test_the_currency_set_is_described_not_listed() -> None:
    assert (
        describe_allowed(ORDERS, "currency")
        == "an ISO 4217 currency code in current use (BRL, EUR, GBP, USD...)"
    )
    assert describe_allowed(ORDERS, "status") == "one of: completed, cancelled, refunded, partially_returned"


def test_codes_are_spelled_as_the_allowed_sets_spell_them() -> None:
    assert normalise_code("payment_method", " Bank Transfer ") == "bank_transfer"
    assert normalise_code("payment_method", "cash-on-delivery") == "cash_on_delivery"
    assert normalise_code("currency", " eur ") == "EUR"
    assert allowed_values(ORDERS, "status") == ORDER_STATUSES
    assert allowed_values(ORDERS, "customer_id") is None
    assert allowed_values(TICKETS, "severity") == ("low", "medium", "high", "critical")


def test_field_kinds_decide_the_hard_rules() -> None:
    identifiers = [f.name for entity in ENTITIES.values() for f in entity.fields if is_identifier(f)]
    assert identifiers == [
        "order_id",
        "customer_id",
        "parent_order_id",
        "customer_id",
        "merged_into",
        "ticket_id",
        "customer_id",
    ]
    assert [f.name for f in ORDERS.fields if is_money(f)] == [
        "gross_amount",
        "discount_amount",
        "refunded_amount",
    ]
    assert [f.name for f in TICKETS.fields if is_temporal(f)] == ["opened_at", "resolved_at", "updated_at"]


def test_implicit_defaults_name_fields_of_their_entity() -> None:
    for rules_by_entity in (FALLBACKS, IMPLICIT_DEFAULTS):
        for entity, fields in rules_by_entity.items():
            names = ENTITIES[entity].columns
            assert set(fields) <= set(names) and set(fields.values()) <= set(names) | {"1"}
    assert FALLBACKS == {"orders": {"updated_at": "ordered_at"}, "tickets": {"updated_at": "opened_at"}}
