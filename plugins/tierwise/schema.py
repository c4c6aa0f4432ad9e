"""Canonical export schema: the contract between exports, ingestion and dbt.

Every source config maps an export onto one of these entities. Types are
DuckDB types; ``required`` fields must be present and parse, or the row is
quarantined with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    key: tuple[str, ...]
    version_column: str
    fields: tuple[Field, ...]
    description: str = ""

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


ORDER_STATUSES = ("completed", "cancelled", "refunded", "partially_returned")
CONTACT_STATUSES = ("active", "suspended", "closed", "cancelled")
ACCOUNT_TYPES = ("individual", "business", "test", "internal")
# feedback: a rating or review that is not a complaint (a 4-star review), kept so that a
# review export loads whole; only complaints count towards the complaint measures.
TICKET_CATEGORIES = ("complaint", "inquiry", "return_request", "feedback")
TICKET_SEVERITIES = ("low", "medium", "high", "critical")
TICKET_STATUSES = ("open", "resolved", "closed")
PAYMENT_METHODS = ("card", "paypal", "bank_transfer", "cash_on_delivery", "invoice")
# ISO 4217 List One (current currency and funds codes) as published after Bulgaria adopted the
# euro on 2026-01-01 (Debian iso-codes 4.20.1), less XTS (reserved for testing) and XXX (no
# currency): 176 codes. Withdrawn codes (HRK, BGN, ANG...) are not in it, so an export in one is
# quarantined as unknown_currency. dbt_project/macros/fx_rates.sql holds the same list for the
# rates checks; amounts are converted to EUR (docs/ingestion.md, "Currencies").
_ISO_4217_IN_USE = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK
    DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
    IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA
    XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG
"""
CURRENCIES: tuple[str, ...] = tuple(_ISO_4217_IN_USE.split())

ORDERS = Entity(
    name="orders",
    key=("order_id", "line_no"),
    version_column="updated_at",
    description=(
        "One record per order (or order line). A record arrives again when the "
        "order changes (refund, return); the latest updated_at wins."
    ),
    fields=(
        Field("order_id", "VARCHAR", True, "Order (invoice) number"),
        Field("line_no", "INTEGER", False, "Line within the order; 1 when the export has one row per order"),
        Field("customer_id", "VARCHAR", True, "Customer key, joins contacts.customer_id"),
        Field("ordered_at", "TIMESTAMP", True, "When the order was placed"),
        Field("status", "VARCHAR", True, "One of " + ", ".join(ORDER_STATUSES)),
        Field("currency", "VARCHAR", True, "ISO 4217 code in current use (BRL, EUR, GBP, USD...)"),
        Field("gross_amount", "DECIMAL(18,2)", True, "Amount before discounts"),
        Field("discount_amount", "DECIMAL(18,2)", False, "Discount granted (>= 0)"),
        Field("refunded_amount", "DECIMAL(18,2)", False, "Amount refunded or returned (>= 0)"),
        Field("payment_method", "VARCHAR", False, "One of " + ", ".join(PAYMENT_METHODS)),
        Field("parent_order_id", "VARCHAR", False, "Set on split shipments: the order they were split from"),
        Field("updated_at", "TIMESTAMP", False, "Version of the record; defaults to ordered_at"),
    ),
)

CONTACTS = Entity(
    name="contacts",
    key=("customer_id",),
    version_column="updated_at",
    description="CRM contacts/accounts; every change arrives as a new version.",
    fields=(
        Field("customer_id", "VARCHAR", True, "Customer key"),
        Field("customer_name", "VARCHAR", False, "Display name"),
        Field("email", "VARCHAR", False, "Email address (personal data)"),
        Field("phone", "VARCHAR", False, "Phone number (personal data)"),
        Field("account_type", "VARCHAR", True, "One of " + ", ".join(ACCOUNT_TYPES)),
        Field("industry", "VARCHAR", False, "Industry of the account"),
        Field("region", "VARCHAR", False, "Sales region"),
        Field("country", "VARCHAR", False, "Country"),
        Field("status", "VARCHAR", True, "One of " + ", ".join(CONTACT_STATUSES)),
        Field("is_verified", "BOOLEAN", False, "Identity verified"),
        Field("signup_date", "DATE", True, "Start of the relationship"),
        Field("updated_at", "TIMESTAMP", True, "Version of the record"),
        Field("is_deleted", "BOOLEAN", False, "Contact deleted in the CRM"),
        Field("merged_into", "VARCHAR", False, "Contact merged into this customer_id"),
    ),
)

TICKETS = Entity(
    name="tickets",
    key=("ticket_id",),
    version_column="updated_at",
    description="Service records: complaints, inquiries and return requests.",
    fields=(
        Field("ticket_id", "VARCHAR", True, "Ticket key"),
        Field("customer_id", "VARCHAR", True, "Customer key"),
        Field("opened_at", "TIMESTAMP", True, "When the ticket was opened"),
        Field("category", "VARCHAR", True, "One of " + ", ".join(TICKET_CATEGORIES)),
        Field("severity", "VARCHAR", False, "One of " + ", ".join(TICKET_SEVERITIES)),
        Field("status", "VARCHAR", False, "One of " + ", ".join(TICKET_STATUSES)),
        Field("resolved_at", "TIMESTAMP", False, "When it was resolved"),
        Field("updated_at", "TIMESTAMP", False, "Version of the record; defaults to opened_at"),
    ),
)

ENTITIES: dict[str, Entity] = {e.name: e for e in (ORDERS, CONTACTS, TICKETS)}
OPTIONAL_ENTITIES = ("contacts", "tickets")
"""A shop without a CRM export has no contacts or tickets: gates and models run without them."""
