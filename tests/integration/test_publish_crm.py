"""Publishing to a CRM over real HTTP: a local server with HubSpot's batch upsert contract."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.warehouse import build_marts, execute
from tests.support import isolate_tierwise, run_context

from tierwise.publish import publish
from tierwise.publish.config import CrmConfig, PublishConfig
from tierwise.publish.errors import PublishFailedError
from tierwise.publish.hubspot import HubSpotContacts

CUSTOMERS = 120
FAST = CrmConfig(
    batch_size=20,
    retry_base_delay=0.01,
    retry_max_delay=0.05,
    timeout_seconds=0.5,
    requests_per_window=10_000,
    window_seconds=1.0,
)


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(timeout_delay=1.0) as fake:
        yield fake


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hubspot: FakeHubSpot) -> Path:
    isolate_tierwise(tmp_path, monkeypatch, home=True)
    monkeypatch.setenv(
        "AIRFLOW_CONN_TIERWISE_CRM", hubspot.url.replace("http://", f"http://:{hubspot.token}@")
    )
    return build_marts(tmp_path / "warehouse.duckdb", customers=CUSTOMERS)


def run(warehouse: Path, run_id: str = "run-1", crm: CrmConfig = FAST, **options: Any) -> Any:
    return publish(
        ["crm"], run_context(run_id, warehouse=warehouse), config=PublishConfig(crm=crm), **options
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if not isinstance(value, Decimal) else f"{value:f}"


def expected_contacts(warehouse: Path) -> dict[str, dict[str, str]]:
    """What the CRM should hold per customer, computed straight from the warehouse."""
    rows = execute(
        warehouse,
        """
        select t.customer_id, c.email, t.tier_code, t.tier_name, t.measure_value, t.abc_class,
            t.next_tier_code, t.gap_to_next_tier, t.is_eligible
        from marts.customer_tiers as t
        left join (select customer_id, email from raw.contacts
                   qualify row_number() over (partition by customer_id order by updated_at desc) = 1) as c
            using (customer_id)
        """,
    )
    expected = {}
    for customer_id, email, *values in rows:
        names = ("customer_tier", "customer_tier_name", "customer_value", "customer_abc_class", "next_tier")
        props = dict(zip((*names, "next_tier_gap", "tier_eligible"), map(_text, values), strict=True))
        clean = (email or "").strip().lower()
        if "@" in clean and "." in clean.split("@")[-1]:
            props["email"] = clean
        props["tierwise_customer_id"] = str(customer_id)
        expected[str(customer_id)] = props
    return expected


def test_contacts_match_the_mart_and_a_rerun_sends_nothing(warehouse: Path, hubspot: FakeHubSpot) -> None:
    report = run(warehouse)
    crm = report.streams[0]
    assert crm.stream.startswith("crm.hubspot.contacts@http://127.0.0.1")
    assert (crm.sent, crm.rejected) == (CUSTOMERS, 0)
    assert hubspot.by_customer() == expected_contacts(warehouse)
    assert ("email", "customer1@example.com") in hubspot.contacts  # trimmed and lowercased
    assert ("tierwise_customer_id", "C0000017") in hubspot.contacts  # invalid email: own id
    assert max(entry.inputs for entry in hubspot.log) <= 20
    requests = len(hubspot.log)
    again = run(warehouse, "run-2")
    assert again.streams[0].sent == 0 and len(hubspot.log) == requests


def test_batches_are_capped_at_100_inputs(warehouse: Path, hubspot: FakeHubSpot) -> None:
    run(warehouse, crm=replace(FAST, batch_size=500))
    assert {entry.status for entry in hubspot.log} == {200}
    assert max(entry.inputs for entry in hubspot.log) == 100


def test_429_bursts_are_absorbed_with_retry_after(warehouse: Path, hubspot: FakeHubSpot) -> None:
    hubspot.rate_limit, hubspot.window = 4, 0.25
    report = run(warehouse, crm=replace(FAST, batch_size=10))
    assert report.streams[0].sent == CUSTOMERS
    assert hubspot.statuses().count(429) > 0
    assert hubspot.by_customer() == expected_contacts(warehouse)


def test_client_side_limit_avoids_429s(warehouse: Path, hubspot: FakeHubSpot) -> None:
    hubspot.rate_limit, hubspot.window = 5, 0.25
    # A margin below the server limit, as in production: arrival times jitter under load.
    crm = replace(FAST, batch_size=10, requests_per_window=4, window_seconds=0.3)
    assert run(warehouse, crm=crm).streams[0].sent == CUSTOMERS
    assert 429 not in hubspot.statuses()


def test_500s_and_timeouts_mid_run_are_retried(warehouse: Path, hubspot: FakeHubSpot) -> None:
    # At most two faults per batch: each batch recovers within its retry budget.
    hubspot.faults.extend(["ok", "500", "timeout", "ok", "503", "429", "ok", "ok", "500", "timeout"])
    report = run(warehouse)
    assert report.streams[0].sent == CUSTOMERS
    assert hubspot.by_customer() == expected_contacts(warehouse)


def test_an_outage_fails_the_destination_and_the_next_run_catches_up(
    warehouse: Path, hubspot: FakeHubSpot
) -> None:
    hubspot.faults.extend(["ok"] * 3 + ["503"] * 50)
    with pytest.raises(PublishFailedError, match="503") as failure:
        run(warehouse, crm=replace(FAST, max_retries=2))
    assert failure.value.report.streams[0].sent == 60  # three batches made it before the outage
    hubspot.faults.clear()
    report = run(warehouse, "run-2")
    assert report.streams[0].sent == CUSTOMERS - 60
    assert hubspot.by_customer() == expected_contacts(warehouse)


def test_bad_credentials_fail_fast(warehouse: Path, hubspot: FakeHubSpot) -> None:
    hubspot.token = "rotated"
    with pytest.raises(PublishFailedError, match="401"):
        run(warehouse)
    assert len(hubspot.log) == 1


def _bad_tier_cycle(warehouse: Path, hubspot: FakeHubSpot, crm: CrmConfig) -> None:
    platinum = execute(warehouse, "select count(*) from marts.customer_tiers where tier_code = 'platinum'")[
        0
    ][0]
    first = run(warehouse, crm=crm).streams[0]
    assert (first.sent, first.rejected) == (CUSTOMERS - platinum, platinum)
    for attempt in (2, 3):
        report = run(warehouse, f"run-{attempt}", crm=crm).streams[0]
        assert (report.retried, report.rejected, report.sent) == (platinum, platinum, 0)
    assert run(warehouse, "run-4", crm=crm).streams[0].rejected == 0  # abandoned: no longer tried
    states = execute(
        warehouse, "select status, attempts, last_error from ops.sync_state where last_error is not null"
    )
    assert {(status, attempts) for status, attempts, _ in states} == {("abandoned", 3)}
    assert all("@" not in error and "allowed option" in error for _, _, error in states)
    # The CRM learns the option: a full resync sends the abandoned records again.
    hubspot.allowed_tiers = hubspot.allowed_tiers | {"platinum"}
    assert run(warehouse, "run-5", crm=crm, full_resync=True).streams[0].rejected == 0
    assert hubspot.by_customer() == expected_contacts(warehouse)


def test_invalid_values_are_rejected_per_record_by_207(warehouse: Path, hubspot: FakeHubSpot) -> None:
    hubspot.allowed_tiers = frozenset({"unrated", "bronze", "silver", "gold"})
    _bad_tier_cycle(warehouse, hubspot, FAST)
    assert 207 in hubspot.statuses()


def test_a_400_batch_is_split_to_isolate_bad_records(warehouse: Path, hubspot: FakeHubSpot) -> None:
    hubspot.multi_status = False
    hubspot.allowed_tiers = frozenset({"unrated", "bronze", "silver", "gold"})
    _bad_tier_cycle(warehouse, hubspot, FAST)
    assert 400 in hubspot.statuses() and 207 not in hubspot.statuses()


def test_killed_between_batches_then_rerun_writes_each_contact_once(
    warehouse: Path, hubspot: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = HubSpotContacts.send
    calls: list[int] = []

    def send_then_die(self: HubSpotContacts, batch: Any) -> Any:
        if len(calls) == 4:
            raise SystemExit("worker killed")
        calls.append(1)
        return original(self, batch)

    monkeypatch.setattr(HubSpotContacts, "send", send_then_die)
    with pytest.raises(SystemExit):
        run(warehouse)
    monkeypatch.setattr(HubSpotContacts, "send", original)
    assert run(warehouse).streams[0].sent == CUSTOMERS - 80  # same run id, retried
    assert hubspot.writes == CUSTOMERS
    assert hubspot.by_customer() == expected_contacts(warehouse)
    attempts = execute(warehouse, "select attempt, status from ops.sync_runs order by attempt")
    assert attempts == [(1, "failed"), (2, "ok")]


def test_logs_carry_no_email_or_token(
    warehouse: Path, hubspot: FakeHubSpot, caplog: pytest.LogCaptureFixture
) -> None:
    hubspot.allowed_tiers = frozenset({"unrated"})
    hubspot.faults.extend(["500", "timeout"])
    with caplog.at_level(logging.DEBUG):
        run(warehouse)
    assert caplog.records
    assert "example.com" not in caplog.text.lower()
    assert hubspot.token not in caplog.text
