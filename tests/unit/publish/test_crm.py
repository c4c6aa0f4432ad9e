from __future__ import annotations

from decimal import Decimal

from tierwise.publish.config import CrmConfig
from tierwise.publish.crm import property_value, to_contact
from tierwise.publish.engine import Batch, Record
from tierwise.publish.identifiers import sha256_hex

COLUMNS = ("_id_customer_id", "_id_email", "_id_phone", "customer_tier", "customer_value", "tier_eligible")


def batch_of(*rows: tuple[object, ...]) -> Batch:
    return Batch(COLUMNS, tuple(Record(str(row[0]), "h", tuple(row)) for row in rows))


def test_email_identity_normalised() -> None:
    batch = batch_of(("C1", " Jane@Example.COM ", None, "gold", Decimal("12.50"), True))
    contact = to_contact(batch, batch.records[0], CrmConfig())
    assert (contact.id_property, contact.id_value) == ("email", "jane@example.com")
    assert contact.properties == {
        "customer_tier": "gold",
        "customer_value": "12.50",
        "tier_eligible": "true",
        "tierwise_customer_id": "C1",
    }


def test_invalid_or_missing_email_falls_back_to_customer_id() -> None:
    batch = batch_of(("C2", "not-an-email", None, None, None, False), ("C3", None, None, "gold", 1, True))
    for record in batch.records:
        contact = to_contact(batch, record, CrmConfig())
        assert (contact.id_property, contact.id_value) == ("tierwise_customer_id", record.key)
        assert "tierwise_customer_id" not in contact.properties


def test_hashed_identifiers_and_phone() -> None:
    batch = batch_of(("C1", "Jane@Example.com", "+44 20 7946 0123", "gold", 1, True))
    config = CrmConfig(hash_identifiers=True, include_phone=True)
    contact = to_contact(batch, batch.records[0], config)
    assert contact.id_property == "tierwise_email_sha256"
    assert contact.id_value == sha256_hex("jane@example.com")
    assert contact.properties["tierwise_phone_sha256"] == sha256_hex("442079460123")
    assert "Jane" not in str(contact.properties)


def test_property_values_are_strings() -> None:
    assert property_value(None) == ""
    assert property_value(False) == "false"
    assert property_value(Decimal("1E+3")) == "1000"
