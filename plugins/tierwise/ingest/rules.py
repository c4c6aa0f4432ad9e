"""Hard rules of the raw layer that the schema module does not spell out per field.

``tierwise.schema`` names the canonical fields and their types; this module adds
what ingestion enforces on them: the allowed value sets, which fields are
identifiers, which are money, and the implicit defaults the schema describes.
"""

from __future__ import annotations

from tierwise import schema
from tierwise.schema import Entity, Field

ABSURD_AMOUNT = 10_000_000
"""Amounts at or above this are typing or unit errors (cents exported as units...)."""

ALLOWED_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "status": schema.ORDER_STATUSES,
        "currency": schema.CURRENCIES,
        "payment_method": schema.PAYMENT_METHODS,
    },
    "contacts": {
        "account_type": schema.ACCOUNT_TYPES,
        "status": schema.CONTACT_STATUSES,
    },
    "tickets": {
        "category": schema.TICKET_CATEGORIES,
        "severity": schema.TICKET_SEVERITIES,
        "status": schema.TICKET_STATUSES,
    },
}

UPPERCASE_CODES = frozenset({"currency"})
"""Enumerated fields whose canonical spelling is upper case (ISO codes)."""

NAMED_SETS: dict[tuple[str, str], str] = {
    ("orders", "currency"): "an ISO 4217 currency code in current use (BRL, EUR, GBP, USD...)",
}
"""Allowed sets too long to list in a message (176 currency codes), described instead."""

FALLBACKS: dict[str, dict[str, str]] = {
    # schema.py: updated_at "defaults to ordered_at" / "defaults to opened_at".
    "orders": {"updated_at": "ordered_at"},
    "tickets": {"updated_at": "opened_at"},
}

IMPLICIT_DEFAULTS: dict[str, dict[str, str]] = {
    # schema.py: line_no is "1 when the export has one row per order".
    "orders": {"line_no": "1"},
}

DEFAULT_INTERVAL_COLUMN = "updated_at"
DEFAULT_TRUE_VALUES = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE_VALUES = ("false", "f", "no", "n", "0")


def allowed_values(entity: Entity, field_name: str) -> tuple[str, ...] | None:
    return ALLOWED_VALUES.get(entity.name, {}).get(field_name)


def describe_allowed(entity: Entity, field_name: str) -> str:
    """What a value must be, for messages: ``one of: a, b`` or the name of a long set."""
    named = NAMED_SETS.get((entity.name, field_name))
    if named:
        return named
    return "one of: " + ", ".join(allowed_values(entity, field_name) or ())


def is_identifier(field: Field) -> bool:
    return field.type == "VARCHAR" and (field.name.endswith("_id") or field.name == "merged_into")


def is_money(field: Field) -> bool:
    return field.type.startswith("DECIMAL")


def is_temporal(field: Field) -> bool:
    return field.type in ("DATE", "TIMESTAMP")


def normalise_code(field_name: str, value: str) -> str:
    """The canonical spelling of an enumerated value: ``Bank Transfer`` -> ``bank_transfer``."""
    text = value.strip()
    if field_name in UPPERCASE_CODES:
        return text.upper()
    return text.lower().replace(" ", "_").replace("-", "_")
