"""Every error Tierwise raises on purpose is a TierwiseError, and its text is masked."""

from __future__ import annotations

import pytest

from tierwise import exceptions
from tierwise.exceptions import CorruptFileError, GateNotPassedError, PublishError, TierwiseError


def test_every_error_is_one_the_cli_reports_without_a_traceback() -> None:
    errors = [
        value
        for value in vars(exceptions).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert all(issubclass(error, TierwiseError) for error in errors)
    assert issubclass(GateNotPassedError, PublishError)


def test_messages_are_masked() -> None:
    with pytest.raises(TierwiseError) as raised:
        raise PublishError("the CRM refused ann.lee@example.com")
    assert "ann.lee@example.com" not in str(raised.value) and "the CRM refused" in str(raised.value)


def test_a_corrupt_file_says_nothing_of_it_was_loaded() -> None:
    path = "/data/orders.csv.gz"
    error = CorruptFileError(path, "CRC check failed")
    assert (
        str(error) == f"{path}: CRC check failed; nothing of this file was loaded (export or copy it again)"
    )
    assert error.path == path
