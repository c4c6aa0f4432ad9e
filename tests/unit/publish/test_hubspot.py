"""HubSpot contacts upsert: each answer of the batch API mapped to per-record results.

The HTTP answers come from a local fake of the API (tests/fakes/hubspot.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.fakes.hubspot import FakeHubSpot

from tierwise.publish.config import CrmConfig
from tierwise.publish.crm import to_contact
from tierwise.publish.engine import Batch, Record
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.httpjson import JsonHttpClient
from tierwise.publish.hubspot import HubSpotContacts, error_message, multi_status_results
from tierwise.publish.retry import RetryPolicy

COLUMNS = ("_id_customer_id", "_id_email", "_id_phone", "customer_tier", "customer_value", "tier_eligible")


def batch_of(*rows: tuple[object, ...]) -> Batch:
    return Batch(COLUMNS, tuple(Record(str(row[0]), "h", tuple(row)) for row in rows))


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


def contacts_at(fake: FakeHubSpot, token: str = "test-token", **config: object) -> HubSpotContacts:
    client = JsonHttpClient(
        fake.url, headers={"Authorization": f"Bearer {token}"}, policy=RetryPolicy(max_retries=0)
    )
    return HubSpotContacts(client, CrmConfig(**config), target="fake")  # type: ignore[arg-type]


def test_contacts_are_upserted_by_email_or_customer_id(hubspot: FakeHubSpot) -> None:
    destination = contacts_at(hubspot)
    batch = batch_of(
        ("C1", " A@B.io ", None, "gold", 12, True),
        ("C2", None, None, "silver", 3, False),
    )
    results = destination.send(batch)
    destination.close()
    assert [(result.key, result.ok) for result in results] == [("C1", True), ("C2", True)]
    assert hubspot.contacts == {
        ("email", "a@b.io"): {
            "email": "a@b.io",
            "customer_tier": "gold",
            "customer_value": "12",
            "tier_eligible": "true",
            "tierwise_customer_id": "C1",
        },
        ("tierwise_customer_id", "C2"): {
            "tierwise_customer_id": "C2",
            "customer_tier": "silver",
            "customer_value": "3",
            "tier_eligible": "false",
        },
    }


def test_a_record_without_any_identifier_is_refused_for_good_without_a_request(hubspot: FakeHubSpot) -> None:
    destination = contacts_at(hubspot)
    [result] = destination.send(
        Batch(COLUMNS, [Record("C3", "h", (None, "no-email", None, "gold", 1, True))])
    )
    assert (result.ok, result.permanent) == (False, True)
    assert result.error == "no usable identifier (no valid email and no customer id)"
    assert hubspot.log == []


def test_invalid_values_fail_only_their_records(hubspot: FakeHubSpot) -> None:
    destination = contacts_at(hubspot)
    results = destination.send(
        batch_of(("C1", "a@b.io", None, "gold", 1, True), ("C2", "c@d.io", None, "bogus", 1, True))
    )
    assert hubspot.statuses() == [207]
    assert [(result.key, result.ok) for result in results] == [("C1", True), ("C2", False)]
    assert '"bogus" is not an allowed option of customer_tier' in (results[1].error or "")
    assert list(hubspot.contacts) == [("email", "a@b.io")]


def test_bad_credentials_make_the_crm_unavailable(hubspot: FakeHubSpot) -> None:
    destination = contacts_at(hubspot, token="wrong-token")
    with pytest.raises(DestinationUnavailableError) as caught:
        destination.send(batch_of(("C1", "a@b.io", None, "gold", 1, True)))
    assert str(caught.value) == ("crm.hubspot.contacts@fake: HTTP 401: Authentication credentials not found")


def test_a_batch_the_api_refuses_whole_is_rejected_for_the_engine_to_split() -> None:
    with FakeHubSpot(max_inputs=1) as fake:
        destination = contacts_at(fake)
        batch = batch_of(("C1", "a@b.io", None, "gold", 1, True), ("C2", "c@d.io", None, "gold", 1, True))
        with pytest.raises(BatchRejectedError, match="HTTP 400: Batch input size must be between 1 and 1"):
            destination.send(batch)


def test_batches_stay_within_the_apis_100_inputs() -> None:
    client = JsonHttpClient("http://127.0.0.1:9")
    assert HubSpotContacts(client, CrmConfig(batch_size=500), target="x").batch_size == 100
    assert HubSpotContacts(client, CrmConfig(batch_size=0), target="x").batch_size == 1
    client.close()


def test_error_messages_are_read_from_any_body() -> None:
    assert error_message({"message": "bad", "category": "VALIDATION_ERROR"}) == "bad"
    assert error_message({"category": "RATE_LIMIT"}) == "RATE_LIMIT"
    assert error_message({"status": "error"}) == "{'status': 'error'}"
    assert error_message("x" * 600) == "x" * 500
    assert error_message(None) == "None"


def test_multi_status_maps_errors_by_trace_id() -> None:
    batch = batch_of(("C1", "a@b.io", None, "gold", 1, True), ("C2", "c@d.io", None, "bogus", 1, True))
    contacts = [to_contact(batch, record, CrmConfig()) for record in batch.records]
    body = {
        "results": [{"objectWriteTraceId": "C1"}],
        "errors": [{"message": 'bad "bogus" for c@d.io', "context": {"objectWriteTraceId": ["C2"]}}],
    }
    results = multi_status_results(contacts, body)
    assert results["C1"].ok and not results["C2"].ok
    assert "c@d.io" not in (results["C2"].error or "")


def test_unattributable_errors_do_not_claim_success() -> None:
    batch = batch_of(("C1", "a@b.io", None, "gold", 1, True), ("C2", "c@d.io", None, "gold", 1, True))
    contacts = [to_contact(batch, record, CrmConfig()) for record in batch.records]
    body = {"results": [{"objectWriteTraceId": "C1"}], "errors": [{"message": "something"}]}
    results = multi_status_results(contacts, body)
    assert results["C1"].ok and not results["C2"].ok
