from __future__ import annotations

import logging
import secrets

import pytest

from tierwise.masking import (
    PERSONAL_COLUMNS,
    SENSITIVE_FIELDS,
    get_logger,
    is_sensitive_field,
    mask,
    redact_record,
    register_secret,
    register_secrets,
)


def test_emails_are_masked_but_correlatable() -> None:
    text = mask("rejected Jane.Doe+vip@Example.co.uk and jane.doe+vip@example.co.uk")
    assert "@" not in text
    first, second = text.split(" and ")
    assert first.split()[-1] == second  # same address, same token


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0123",
        "(020) 7946-0123",
        "+33612345678",
        "+1 (555) 123-4567",
        "+49-30-1234567",
        "06.12.34.56.78",
        "555.123.4567",
        "+33 6 12 34 56 78",
        "0612345678",
        "+49 30/1234567",
    ],
)
def test_phone_numbers_are_masked(phone: str) -> None:
    for text in (f"call {phone} now", f'"phone": "{phone}"', f"phone={phone}"):
        masked = mask(text)
        assert "<phone>" in masked and phone not in masked, masked


@pytest.mark.parametrize(
    "kept",
    [
        "as of 2024-01-31",
        "1000000 rows in 12.5s",
        "customer C0000123",
        "run 2024-01-31T06:00:00+00:00",
        # Decimals in gate messages and observed values (issue 16, item 13).
        '"a_share": 0.8123456789',
        "a_share 0.8123456789 not between 0.05 and 0.3",
        "net revenue 1234567.89 vs staged 1234560.12",
        "-0.8123456789",
        "observed [0.123456789, 0.987654321]",
        "0.5 0.25 0.125 0.0625",
        "p=1.234567891e-05",
        "connect to 192.168.100.200 failed",
        "elapsed 1733500000.123456",
    ],
)
def test_dates_counts_decimals_and_ids_survive(kept: str) -> None:
    assert mask(kept) == kept


def test_uri_passwords_tokens_and_registered_secrets() -> None:
    register_secret("s3cr3t-token-value")
    text = mask("postgresql://app:hunter22@db:5432/x Authorization: Bearer abc.def token=xyz")
    text += mask(" and s3cr3t-token-value")
    assert "hunter22" not in text and "abc.def" not in text and "xyz" not in text
    assert "s3cr3t-token-value" not in text
    assert "postgresql://app:***@db:5432/x" in text


@pytest.mark.parametrize(
    "text",
    [
        "access_token=AAA111",
        '{"access_token": "AAA111"}',
        "client_secret: AAA111",
        "https://api.example/v1?api_key=AAA111&page=2",
        "X-Api-Key: AAA111",
        "refresh_token='AAA111'",
        "private_key=AAA111",
    ],
)
def test_credential_key_values_are_masked_unregistered(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import tierwise.masking

    # Unregistered: secrets other tests registered (a password "secret") would mask the key itself.
    monkeypatch.setattr(tierwise.masking, "_secrets", set())
    assert "AAA111" not in mask(text)


def test_registered_secrets_are_masked_in_their_escaped_forms() -> None:
    value = f"p@ss/w0rd+{secrets.token_hex(4)}"
    register_secret(value)
    from urllib.parse import quote, quote_plus

    for form in (value, quote(value, safe=""), quote_plus(value)):
        assert form not in mask(f"echo {form} echo"), form


def test_every_credential_of_a_nested_extra_is_registered() -> None:
    values = {name: f"{name}-{secrets.token_hex(6)}" for name in ("token", "pwd", "passphrase", "secret")}
    extra = {
        "auth": {"access_token": values["token"], "scopes": ["read"]},
        "keys": [{"private_key_passphrase": values["passphrase"]}],
        "base_url": f"https://user:{values['pwd']}@api.example/?client_secret={values['secret']}",
        "timeout": "30",
    }
    register_secrets(extra)
    text = mask(" ".join(values.values()))
    assert not any(value in text for value in values.values()), text
    assert mask("timeout 30 scopes read") == "timeout 30 scopes read"


def test_sensitive_fields_cover_airflows_list() -> None:
    from airflow.sdk._shared.secrets_masker import DEFAULT_SENSITIVE_FIELDS

    assert DEFAULT_SENSITIVE_FIELDS <= SENSITIVE_FIELDS
    assert all(is_sensitive_field(name) for name in ("Access-Token", "client_secret", "hubspot_api_key"))
    assert not any(is_sensitive_field(name) for name in ("host", "provider", "base_url", "timeout"))


def test_secrets_reach_airflows_masker_inside_airflow() -> None:
    from airflow.sdk._shared.secrets_masker import SecretsMasker, redact

    value = f"airflow-side-{secrets.token_hex(6)}"
    register_secret(value)
    SecretsMasker.enable_log_masking()
    assert value not in str(redact(f"task log line with {value}"))


def test_personal_columns_of_a_row_are_redacted_keys_kept() -> None:
    row = {"_source_file": "c.csv", "_source_line": 7, "email": "a b@example", "phone": "tel 0612345678"}
    redacted = redact_record(row)
    assert redacted["_source_file"] == "c.csv" and redacted["_source_line"] == 7
    assert redacted["email"].startswith("<email:") and redacted["phone"].startswith("<phone:")
    assert redact_record({"email": "a b@example"}) == {"email": redacted["email"]}  # stable in a run
    assert {"email", "phone"} <= PERSONAL_COLUMNS


def test_logger_filter_masks_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("tierwise.publish.test_masking")
    # pytest shares one capture handler for the session; pyspark's JSON logger class, once left
    # behind in an earlier test, sets its own formatter on handlers: use a standard one here.
    caplog.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    with caplog.at_level(logging.INFO, logger="tierwise.publish.test_masking"):
        log.info("sending %s", "someone@example.com")
        try:
            raise ValueError("bad value someone@example.com")
        except ValueError:
            log.exception("failed")
    assert "someone@example.com" not in caplog.text
    assert "<email:" in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        "/data/export-20240101-123045.csv",
        "/data/orders-1700000000.csv",
        "s3://bucket/2024/06/01/orders_0612345678.csv.gz",
    ],
)
def test_file_paths_in_messages_are_not_taken_for_phones(path: str) -> None:
    assert mask(f"{path}: the gzip data is damaged") == f"{path}: the gzip data is damaged"


def test_a_value_redacted_twice_keeps_its_token() -> None:
    from tierwise.masking import redact_record

    once = redact_record({"email": "ada@example.com", "phone": "+49 30 1234567", "customer_id": "C1"})
    # GX results carry the engine's tokens, ops.quality_results redacts the same rows again.
    assert redact_record(once) == once and once["email"].startswith("<email:")
