"""The dry run's field diff: old against new per field, personal values never shown."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from tierwise.publish.fielddiff import ReadsBack, field_diffs, sample_keys, shown

COLUMNS = ("_id_email", "tier_code", "measure_value", "is_eligible")
EMAIL = "ana.lopez@example.org"


class Readable:
    """What an operational table holds: SQLite's types (booleans as 0/1, decimals as text)."""

    def __init__(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        self.rows = rows

    def current(self, keys: Sequence[str]) -> Mapping[str, Mapping[str, Any]] | None:
        return {key: self.rows[key] for key in keys if key in self.rows}


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        con.execute(
            "create temp table _tw_src as select * from (values "
            f"('C1', '{EMAIL}', 'gold', 120.50::decimal(18, 2), true), "
            "('C2', 'b@example.org', 'silver', 80.00::decimal(18, 2), true)) "
            "as src(record_key, _id_email, tier_code, measure_value, is_eligible)"
        )
        yield con


def test_only_fields_that_differ_are_shown_with_old_and_new(con: duckdb.DuckDBPyConnection) -> None:
    held = Readable(
        {"C1": {"_id_email": EMAIL, "tier_code": "silver", "measure_value": "99.00", "is_eligible": 1}}
    )
    (diff,) = field_diffs(con, [("changed", "C1")], COLUMNS, held)
    texts = [change.text() for change in diff.changes]
    assert texts == ["tier_code silver -> gold", "measure_value 99.00 -> 120.50"]
    assert diff.line() == "changed C1: tier_code silver -> gold; measure_value 99.00 -> 120.50"


def test_a_record_the_destination_lacks_shows_every_field_and_masks_personal_ones(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (diff,) = field_diffs(con, [("new", "C1")], COLUMNS, Readable({}))
    texts = [change.text() for change in diff.changes]
    assert texts[1:] == ["tier_code - -> gold", "measure_value - -> 120.50", "is_eligible - -> true"]
    assert texts[0].startswith("_id_email - -> <email:") and EMAIL not in diff.line()
    assert "example.org" not in diff.line()


def test_a_destination_not_read_back_says_the_old_values_are_unknown(con: duckdb.DuckDBPyConnection) -> None:
    (diff,) = field_diffs(con, [("changed", "C2")], COLUMNS, object())
    assert not isinstance(object(), ReadsBack) and not diff.old_known
    assert "tier_code ? -> silver" in diff.line() and "not read back" in diff.line()
    assert "b@example.org" not in diff.line()


def test_a_removed_record_shows_what_goes() -> None:
    with duckdb.connect() as con:
        con.execute("create temp table _tw_src (record_key varchar, tier_code varchar)")
        held = Readable({"C9": {"tier_code": "gold"}})
        (diff,) = field_diffs(con, [("delete", "C9")], ("tier_code",), held)
    assert diff.line() == "delete C9: tier_code gold -> -"


def test_the_sample_puts_changed_records_first_and_is_capped() -> None:
    diff = [("new", "C1"), ("changed", "C7"), ("delete", "C3"), ("changed", "C2")]
    assert sample_keys(diff, 3) == [("changed", "C2"), ("changed", "C7"), ("new", "C1")]


def test_values_are_masked_and_personal_columns_tokenised() -> None:
    assert shown("measure_value", Decimal("1.50")) == "1.50"
    assert shown("phone", "+44 20 7946 0958") != "+44 20 7946 0958"
    assert "ana.lopez" not in str(shown("note", f"write to {EMAIL}"))
