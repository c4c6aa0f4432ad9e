from __future__ import annotations

import logging

import pytest

from tierwise.masking import get_logger, mask, register_secret


def test_emails_are_masked_but_correlatable() -> None:
    text = mask("rejected Jane.Doe+vip@Example.co.uk and jane.doe+vip@example.co.uk")
    assert "@" not in text
    first, second = text.split(" and ")
    assert first.split()[-1] == second  # same address, same token


@pytest.mark.parametrize("phone", ["+44 20 7946 0123", "(020) 7946-0123", "+33612345678"])
def test_phone_numbers_are_masked(phone: str) -> None:
    assert "7946" not in mask(f"call {phone} now") or phone == "+33612345678"
    assert "<phone>" in mask(f"call {phone} now")


@pytest.mark.parametrize(
    "kept",
    ["as of 2024-01-31", "1000000 rows in 12.5s", "customer C0000123", "run 2024-01-31T06:00:00+00:00"],
)
def test_dates_counts_and_ids_survive(kept: str) -> None:
    assert mask(kept) == kept


def test_uri_passwords_tokens_and_registered_secrets() -> None:
    register_secret("s3cr3t-token-value")
    text = mask("postgresql://app:hunter22@db:5432/x Authorization: Bearer abc.def token=xyz")
    text += mask(" and s3cr3t-token-value")
    assert "hunter22" not in text and "abc.def" not in text and "xyz" not in text
    assert "s3cr3t-token-value" not in text
    assert "postgresql://app:***@db:5432/x" in text


def test_logger_filter_masks_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("tierwise.publish.test_masking")
    with caplog.at_level(logging.INFO, logger="tierwise.publish.test_masking"):
        log.info("sending %s", "someone@example.com")
        try:
            raise ValueError("bad value someone@example.com")
        except ValueError:
            log.exception("failed")
    assert "someone@example.com" not in caplog.text
    assert "<email:" in caplog.text
