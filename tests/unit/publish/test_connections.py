from __future__ import annotations

import pytest

from tierwise.exceptions import ConfigError
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
