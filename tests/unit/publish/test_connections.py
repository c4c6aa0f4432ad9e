from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode

import pytest

from tierwise.exceptions import ConfigError
from tierwise.masking import mask
from tierwise.publish.connections import base_url, extra_flag, get_connection, parse_connection, secret_of


def test_uri_with_encoded_password_and_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TIERWISE_POSTGRES", "postgresql://app:p%40ss@db.local:6432/ops?sslmode=require"
    )
    conn = get_connection("tierwise_postgres")
    assert conn is not None
    assert (conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.schema) == (
        "postgres",
        "db.local",
        6432,
        "app",
        "p@ss",
        "ops",
    )
    assert conn.extra == {"sslmode": "require"}
    assert "p@ss" not in repr(conn) and conn.describe() == "postgres://db.local:6432/ops"


def test_json_form_and_extra_json() -> None:
    raw = '{"conn_type": "http", "host": "https://crm.example", "extra": {"token": "t0k3n"}}'
    conn = parse_connection("x", raw)
    assert base_url(conn) == "https://crm.example"
    assert secret_of(conn, "token") == "t0k3n"
    packed = parse_connection("y", 'smtp://mail:25?__extra__={"disable_ssl": true, "to": "a@b.c"}')
    assert extra_flag(packed, "disable_ssl") and packed.extra["to"] == "a@b.c"


def test_webhook_path_becomes_part_of_the_url() -> None:
    conn = parse_connection("w", "http://:secret@127.0.0.1:8080/hooks/tiers")
    assert base_url(conn) == "http://127.0.0.1:8080/hooks/tiers"
    assert secret_of(conn, "secret") == "secret"


def test_missing_connection_is_none_and_bad_one_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_connection("tierwise_crm") is None
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_X") as error:
        parse_connection("x", '{"host": "h", "password": "leak", ')
    assert "leak" not in str(error.value)


def _credential(kind: str) -> str:
    """A fresh value per test (fresh: the masker remembers values for the whole process)."""
    return f"{kind}-{secrets.token_hex(6)}"


def _uri_with_query(values: dict[str, str]) -> str:
    query = urlencode(
        {
            "token": values["token"],
            "api_key": values["api_key"],
            "client_secret": values["secret"],
            "base_url": f"https://u:{values['url_password']}@crm.local/",
        }
    )
    return f"http://login:{values['password']}@crm.local:8080/v3?{query}"


def _uri_with_extra(values: dict[str, str]) -> str:
    extra = {"access_token": values["access_token"], "oauth": {"refresh_token": values["refresh"]}}
    return f"http://login:{values['password']}@crm.local?{urlencode({'__extra__': json.dumps(extra)})}"


def _json(values: dict[str, str]) -> str:
    extra = {
        "token": values["token"],
        "access_token": values["access_token"],
        "hubspot_api_key": values["api_key"],
        "signing_secret": values["secret"],
        "oauth": {"refresh_token": values["refresh"]},
    }
    host = f"https://u:{values['url_password']}@crm.local/"
    return json.dumps({"conn_type": "http", "host": host, "password": values["password"], "extra": extra})


FORMS = {
    "uri_query": (_uri_with_query, ("password", "token", "api_key", "secret", "url_password")),
    "uri_extra": (_uri_with_extra, ("password", "access_token", "refresh")),
    "json": (_json, ("password", "token", "access_token", "api_key", "secret", "refresh", "url_password")),
}


@pytest.mark.parametrize("form", FORMS)
def test_every_credential_of_a_connection_is_masked_once_read(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    render, kinds = FORMS[form]
    values = {kind: _credential(kind) for kind in kinds}
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_CRM", render(values))
    connection = get_connection("tierwise_crm")
    assert connection is not None
    # What an API that echoes its input would send back, and where the connection points.
    echoed = mask(f"API said: {' / '.join(values.values())} while connecting to {connection.describe()}")
    assert [kind for kind, value in values.items() if value in echoed] == [], echoed
    assert not any(value in connection.describe() for value in values.values())


def test_a_connection_given_as_a_value_is_masked_too() -> None:
    # The alerts' connection can come as a URI string, not through get_connection.
    import secrets as stdlib_secrets

    from tierwise.masking import mask
    from tierwise.publish.connections import parse_connection

    token = f"tok-{stdlib_secrets.token_hex(8)}"
    parse_connection("tierwise_alerts", f"https://:{token}@hooks.example/services/T1")
    assert token not in mask(f"HTTP 401: the body echoed {token}")
