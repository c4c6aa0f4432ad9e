"""CRM-neutral contact mapping: which identifier to match on, which properties to set.

Each CRM module (``hubspot.py`` today; a Salesforce Bulk API 2.0 module would add an
ingest job that uploads these contacts as CSV) only turns :class:`Contact` objects into
requests and answers into :class:`RecordResult` objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tierwise.publish.config import CrmConfig
from tierwise.publish.engine import Batch, Record
from tierwise.publish.identifiers import is_valid_email, normalise_email, normalise_phone, sha256_hex
from tierwise.publish.sources import CRM_ID_COLUMNS


@dataclass(frozen=True)
class Contact:
    key: str  # the record key in the sync state (customer_id)
    id_property: str | None  # None: no usable identifier, cannot be sent
    id_value: str | None
    properties: dict[str, str]


def property_value(value: Any) -> str:
    """CRM property values travel as strings; empty string clears a property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _identity(values: dict[str, Any], config: CrmConfig) -> tuple[str | None, str | None]:
    email = normalise_email(values.get("_id_email"))
    if is_valid_email(email) and email is not None:
        if config.hash_identifiers:
            return config.hashed_id_property, sha256_hex(email)
        return config.id_property, email
    # No (valid) email: match on our own customer id, a unique custom property in the CRM.
    customer_id = values.get("_id_customer_id")
    if customer_id in (None, ""):
        return None, None
    return config.fallback_id_property, str(customer_id)


def _phone_property(values: dict[str, Any], config: CrmConfig) -> dict[str, str]:
    phone = normalise_phone(values.get("_id_phone")) if config.include_phone else None
    if not phone:
        return {}
    return {"tierwise_phone_sha256": sha256_hex(phone)} if config.hash_identifiers else {"phone": phone}


def to_contact(batch: Batch, record: Record, config: CrmConfig) -> Contact:
    values = batch.as_dict(record)
    id_property, id_value = _identity(values, config)
    properties = {name: property_value(value) for name, value in values.items() if name not in CRM_ID_COLUMNS}
    properties[config.fallback_id_property] = str(values.get("_id_customer_id") or record.key)
    properties.update(_phone_property(values, config))
    if id_property is not None and id_property in properties:
        properties.pop(id_property)
    return Contact(record.key, id_property, id_value, properties)
