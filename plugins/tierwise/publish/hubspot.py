"""HubSpot CRM: contacts batch upsert (``POST /crm/v3/objects/{object}/batch/upsert``).

Contract handled here: at most 100 inputs per call; 200/201 all written; 207 multi-status
with per-input errors (enabled by sending ``objectWriteTraceId``, which we set to the
record key so errors map back to customers); 400 for a bad batch (the engine splits it);
401/403 bad credentials; 429 over the per-10-second limit and 5xx outages are retried by
the HTTP client (:mod:`tierwise.publish.httpjson`), honouring Retry-After.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from tierwise.masking import mask
from tierwise.publish.config import CrmConfig
from tierwise.publish.crm import Contact, to_contact
from tierwise.publish.engine import Batch, RecordResult
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError
from tierwise.publish.httpjson import JsonHttpClient, json_body

MAX_INPUTS = 100
_NO_IDENTIFIER = "no usable identifier (no valid email and no customer id)"


def error_message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("category") or body)[:500]
    return str(body)[:500]


def _trace_ids(error: dict[str, Any]) -> list[str]:
    context = error.get("context") or {}
    ids = context.get("objectWriteTraceId") or []
    return [str(value) for value in (ids if isinstance(ids, list) else [ids])]


def multi_status_results(contacts: Sequence[Contact], body: Any) -> dict[str, RecordResult]:
    """Per-contact outcome of a 207 answer."""
    errors = body.get("errors", []) if isinstance(body, dict) else []
    failed: dict[str, str] = {}
    unmapped = False
    for error in errors:
        keys = _trace_ids(error) if isinstance(error, dict) else []
        unmapped = unmapped or not keys
        for key in keys:
            failed[key] = mask(error_message(error))
    results = body.get("results", []) if isinstance(body, dict) else []
    confirmed = {str(item.get("objectWriteTraceId")) for item in results if isinstance(item, dict)}
    outcome: dict[str, RecordResult] = {}
    for contact in contacts:
        if contact.key in failed:
            outcome[contact.key] = RecordResult(contact.key, ok=False, error=failed[contact.key])
        elif unmapped and contact.key not in confirmed:
            # An error we cannot attribute: do not claim success for unconfirmed inputs.
            outcome[contact.key] = RecordResult(contact.key, ok=False, error="not confirmed in a 207 answer")
        else:
            outcome[contact.key] = RecordResult(contact.key, ok=True)
    return outcome


class HubSpotContacts:
    """A Destination upserting customer tiers as CRM contact properties."""

    supports_delete = False  # a customer leaving the mart keeps its CRM contact
    resync_safe = True

    def __init__(self, client: JsonHttpClient, config: CrmConfig, *, target: str) -> None:
        self.client = client
        self.config = config
        self.batch_size = max(1, min(config.batch_size, MAX_INPUTS))
        self.name = f"crm.hubspot.{config.object_type}@{target}"
        self.path = f"/crm/v3/objects/{config.object_type}/batch/upsert"

    def send(self, batch: Batch) -> Sequence[RecordResult]:
        contacts = [to_contact(batch, record, self.config) for record in batch.records]
        outcome = {
            contact.key: RecordResult(contact.key, ok=False, error=_NO_IDENTIFIER, permanent=True)
            for contact in contacts
            if contact.id_property is None
        }
        sendable = [contact for contact in contacts if contact.id_property is not None]
        if sendable:
            outcome.update(self._upsert(sendable))
        return [outcome[record.key] for record in batch.records]

    def close(self) -> None:
        self.client.close()

    def _upsert(self, contacts: Sequence[Contact]) -> dict[str, RecordResult]:
        inputs = [
            {
                "idProperty": contact.id_property,
                "id": contact.id_value,
                "properties": contact.properties,
                "objectWriteTraceId": contact.key,
            }
            for contact in contacts
        ]
        return self._interpret(contacts, self.client.post(self.path, {"inputs": inputs}))

    def _interpret(self, contacts: Sequence[Contact], response: httpx.Response) -> dict[str, RecordResult]:
        status, body = response.status_code, json_body(response)
        if status in (200, 201):
            return {contact.key: RecordResult(contact.key, ok=True) for contact in contacts}
        if status == 207:
            return multi_status_results(contacts, body)
        message = mask(f"HTTP {status}: {error_message(body)}")
        if status in (401, 403, 404):
            raise DestinationUnavailableError(f"{self.name}: {message}")
        if 400 <= status < 500:
            raise BatchRejectedError(message)
        raise DestinationUnavailableError(f"{self.name}: unexpected answer {message}")
