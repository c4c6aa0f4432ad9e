from __future__ import annotations

import duckdb
import pytest

from tierwise.publish.pgcopy import copy_text

COLUMNS = ("name", "amount", "share", "flag", "day", "note")


@pytest.fixture
def pending(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A ``_tw_pending`` shaped like the engine's: rank, key, hash, op, attempts, state, values."""
    con.execute(
        """
        create temp table _tw_pending as select * from (values
            (1, 'k1', 'h', 'upsert', 0, true, 'plain', '12.50', 0.1::double, true, '2024-01-31', null),
            (2, 'k2', null, 'delete', 0, true, null, null, null, null, null, null),
            (3, 'k3', 'h', 'upsert', 0, false, '', '-3.00', 1e-05::double, false, '2024-02-29', 'é ü')
        ) t(rn, record_key, record_hash, op, prior_attempts, in_state, name, amount, share, flag, day, note)
        """
    )
    return con


def test_upserts_of_the_window_as_copy_text(pending: duckdb.DuckDBPyConnection) -> None:
    count, text = copy_text(pending, 0, 3, COLUMNS)
    assert count == 2
    assert text == (
        "plain\t12.50\t0.1\ttrue\t2024-01-31\t\\N\n"  # null is \N
        "\t-3.00\t1e-05\tfalse\t2024-02-29\té ü\n"  # an empty string stays empty
    )


def test_a_window_without_upserts_is_empty(pending: duckdb.DuckDBPyConnection) -> None:
    assert copy_text(pending, 1, 2, COLUMNS) == (0, "")
    assert copy_text(pending, 3, 3, COLUMNS) == (0, "")


def test_special_characters_are_escaped(pending: duckdb.DuckDBPyConnection) -> None:
    pending.execute(
        "update _tw_pending set name = 'tab' || chr(9) || 'nl' || chr(10) || 'cr' || chr(13) || 'bs\\', "
        "note = '\\N' where rn = 1"
    )
    count, text = copy_text(pending, 0, 1, COLUMNS)
    assert count == 1
    # A literal backslash-N string must not read back as null.
    assert text == "tab\\tnl\\ncr\\rbs\\\\\t12.50\t0.1\ttrue\t2024-01-31\t\\\\N\n"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a" + chr(9) + "b", "a\\tb"),
        ("a" + chr(10) + "b", "a\\nb"),
        ("a" + chr(13) + "b", "a\\rb"),
        ("a\\b", "a\\\\b"),
        ("\\N", "\\\\N"),  # alongside a real null in the same row
    ],
)
def test_each_special_character_alone_is_escaped(
    pending: duckdb.DuckDBPyConnection, value: str, escaped: str
) -> None:
    # The plain rendering is checked by counting separators and null markers: one stray
    # character of any kind must be enough to switch to the escaped rendering.
    pending.execute("update _tw_pending set name = ? where rn = 1", [value])
    count, text = copy_text(pending, 0, 1, COLUMNS)
    assert count == 1
    assert text == f"{escaped}\t12.50\t0.1\ttrue\t2024-01-31\t\\N\n"
