"""One list of currencies: ISO 4217 in current use, the same in ingestion, the raw gate and dbt."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from tierwise import schema
from tierwise_dev.generate import vocab

REPO = Path(__file__).resolve().parents[2]
MACROS = REPO / "dbt_project" / "macros" / "fx_rates.sql"


def test_the_list_is_iso_4217_in_current_use() -> None:
    codes = schema.CURRENCIES
    assert len(codes) == 176 and list(codes) == sorted(set(codes))
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in codes)
    assert {"BRL", "EUR", "GBP", "USD", "JPY", "CHF", "XCG", "ZWG", "XAU", "CLF"} <= set(codes)
    # Withdrawn (HRK 2023, BGN 2026...), testing and no-currency codes, and non-codes.
    assert not {"HRK", "BGN", "ANG", "ZWL", "SLL", "CUC", "XTS", "XXX", "EURO", "XYZ"} & set(codes)


def test_dbt_checks_rates_against_the_same_list() -> None:
    macro = MACROS.read_text(encoding="utf-8").split("macro tierwise_iso_4217_codes()")[1]
    listed = macro.split("set codes %}")[1].split("{% endset")[0]
    assert tuple(listed.split()) == schema.CURRENCIES


def test_seed_and_sample_currencies_are_accepted() -> None:
    with (REPO / "dbt_project" / "seeds" / "fx_rates.csv").open(newline="", encoding="utf-8") as handle:
        seeded = {row["currency"] for row in csv.DictReader(handle)}
    with (REPO / "examples" / "olist" / "fx_rates.csv").open(newline="", encoding="utf-8") as handle:
        olist = {row["currency"] for row in csv.DictReader(handle)}
    assert set(vocab.CURRENCIES) <= seeded <= set(schema.CURRENCIES)
    assert olist == {"BRL"}
