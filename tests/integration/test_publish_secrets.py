"""No credential of the CRM connection surfaces anywhere a person or a later process can read.

The local CRM fake echoes the key it was sent in every error body (as some APIs do). Each case
puts the key in another kind of connection field, next to decoy credentials of every other
kind, runs ``tierwise publish`` through answers that quote the key (207 per-record errors,
400 batch rejections, 401 refusal), writes a run summary, then scans the console, every file
under logs/ and publish/, and every table of the ``ops`` schema for each secret.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import duckdb
import pytest
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.warehouse import build_marts
from tests.support import isolate_tierwise

from tierwise import pipeline
from tierwise.cli import main

Secrets = dict[str, str]


def _decoys(values: Secrets) -> dict[str, object]:
    """Credentials the CRM never receives: they may only leak if a connection is dumped."""
    return {
        "api_key": values["api_key"],
        "client_secret": values["client_secret"],
        "oauth": {"refresh_token": values["refresh_token"], "proxy": {"password": values["password"]}},
    }


def _password_in_uri(url: str, values: Secrets) -> str:
    query = urlencode({key: value for key, value in _decoys(values).items() if isinstance(value, str)})
    return url.replace("http://", f"http://:{quote(values['key'], safe='')}@") + f"?{query}"


def _token_in_uri_query(url: str, values: Secrets) -> str:
    return f"{url}?{urlencode({'token': values['key'], 'api_key': values['api_key']})}"


def _access_token_in_extra(url: str, values: Secrets) -> str:
    extra = {"access_token": values["key"], **_decoys(values)}
    return json.dumps({"conn_type": "http", "host": url, "extra": extra})


def _token_in_extra(url: str, values: Secrets) -> str:
    return json.dumps(
        {"conn_type": "http", "host": url, "extra": {"token": values["key"], **_decoys(values)}}
    )


CONNECTIONS: dict[str, Callable[[str, Secrets], str]] = {
    "password_in_uri": _password_in_uri,
    "token_in_uri_query": _token_in_uri_query,
    "access_token_in_extra": _access_token_in_extra,
    "token_in_extra": _token_in_extra,
}


def _fresh_secrets() -> Secrets:
    # Fresh values per case: the masker remembers secrets for the whole process. The key holds
    # characters a URI must encode, so the encoded and the decoded form both matter.
    names = ("api_key", "client_secret", "refresh_token", "password")
    values = {name: f"{name}-{secrets.token_hex(8)}" for name in names}
    values["key"] = f"pat-na1-{secrets.token_hex(8)}/+@x"
    return values


def _files_text(*folders: Path) -> str:
    paths = [path for folder in folders if folder.exists() for path in folder.rglob("*") if path.is_file()]
    return "\n".join(path.read_bytes().decode("utf-8", errors="replace") for path in paths)


def _ops_text(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select table_name from duckdb_tables() where schema_name = 'ops'").fetchall()
        assert {"sync_runs", "sync_state"} <= {name for (name,) in tables}
        return "\n".join(str(con.execute(f'select * from ops."{name}"').fetchall()) for (name,) in tables)


def _publish_and_summarise(run_id: str) -> None:
    """A successful publish stage (with rejected records) and the run summary it leads to."""
    ctx = pipeline.RunContext.create(run_id, as_of_date=None)
    pipeline.summarize(ctx, [pipeline.publish(ctx, ["crm"])])


@pytest.mark.parametrize("kind", CONNECTIONS)
def test_no_credential_surfaces_in_console_logs_summaries_or_ops(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    isolate_tierwise(tmp_path, monkeypatch, home=True)
    warehouse = build_marts(tmp_path / "warehouse.duckdb", customers=60)
    with duckdb.connect(str(warehouse)) as con:  # the run summary counts it
        con.execute("create table marts.customer_value as select customer_id from marts.customer_tiers")
    monkeypatch.setenv("TIERWISE_WAREHOUSE", str(warehouse))
    values = _fresh_secrets()
    with FakeHubSpot(token=values["key"], echo_key=True) as crm:
        monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_CRM", CONNECTIONS[kind](crm.url, values))
        # 207: gold and platinum are not options of the CRM's property, each error quotes the key.
        crm.allowed_tiers = frozenset({"unrated", "bronze", "silver"})
        assert main(["publish", "--destination", "crm"]) == 0
        # 400 per batch (no multi-status), split down to single records, each quoting the key.
        crm.multi_status = False
        _publish_and_summarise(f"secrets__{datetime.now():%Y%m%dT%H%M%S%f}")
        # 401: the CRM refuses the key and quotes it; the destination fails.
        crm.token = "rotated-key"
        assert main(["publish", "--destination", "crm"]) == 1
        assert {400, 401, 207} <= set(crm.statuses())
    console = capfd.readouterr()
    surfaces = {
        "console": console.out + console.err,
        "logs and run summaries": _files_text(tmp_path / "logs"),
        "publish folder": _files_text(tmp_path / "publish"),
        "ops tables": _ops_text(warehouse),
    }
    assert (tmp_path / "logs" / "last_run_summary.txt").is_file()
    forms = {name: {value, quote(value, safe=""), quote(value)} for name, value in values.items()}
    leaks = [
        f"{name} in {surface}"
        for surface, text in surfaces.items()
        for name, variants in forms.items()
        if any(variant in text for variant in variants)
    ]
    assert leaks == []
    # The CRM did quote the key: it was masked, not absent.
    assert "HTTP 401" in console.err and "(the key *** was used)" in console.err
