"""Vocabularies and mixing weights of the sample data.

Canonical value sets come from :mod:`tierwise.schema` so that the generator can
never write a status or category that ingestion would reject; everything here
only shapes how realistic the sample looks.
"""

from __future__ import annotations

from tierwise.schema import (
    ACCOUNT_TYPES,
    CONTACT_STATUSES,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    TICKET_CATEGORIES,
    TICKET_SEVERITIES,
    TICKET_STATUSES,
)

__all__ = [
    "ACCOUNT_TYPES",
    "CONTACT_STATUSES",
    "CURRENCIES",
    "ORDER_STATUSES",
    "PAYMENT_METHODS",
    "TICKET_CATEGORIES",
    "TICKET_SEVERITIES",
    "TICKET_STATUSES",
]

ACCOUNT_WEIGHTS = (0.86, 0.11, 0.02, 0.01)
INDIVIDUAL, BUSINESS, TEST, INTERNAL = (ACCOUNT_TYPES.index(t) for t in ACCOUNT_TYPES)

# country, calling code, region, currency, weight
COUNTRIES = (
    ("DE", "49", "Central Europe", "EUR", 0.30),
    ("AT", "43", "Central Europe", "EUR", 0.05),
    ("FR", "33", "Western Europe", "EUR", 0.13),
    ("NL", "31", "Western Europe", "EUR", 0.08),
    ("BE", "32", "Western Europe", "EUR", 0.05),
    ("IT", "39", "Southern Europe", "EUR", 0.07),
    ("ES", "34", "Southern Europe", "EUR", 0.07),
    ("IE", "353", "UK & Ireland", "EUR", 0.03),
    ("GB", "44", "UK & Ireland", "GBP", 0.13),
    ("US", "1", "North America", "USD", 0.09),
)
# The sample's currencies: a few of the ISO 4217 codes ingestion accepts, all in the FX seed.
CURRENCIES = ("EUR", "GBP", "USD")
COUNTRY_CODES = tuple(c[0] for c in COUNTRIES)
CALLING_CODES = tuple(c[1] for c in COUNTRIES)
REGIONS = tuple(dict.fromkeys(c[2] for c in COUNTRIES))
COUNTRY_REGION = tuple(REGIONS.index(c[2]) for c in COUNTRIES)
COUNTRY_CURRENCY = tuple(CURRENCIES.index(c[3]) for c in COUNTRIES)
COUNTRY_WEIGHTS = tuple(c[4] for c in COUNTRIES)
# Order values are drawn in EUR-like units and scaled so GBP/USD prices look local.
CURRENCY_SCALE = {"EUR": 1.0, "GBP": 0.86, "USD": 1.09}

INDUSTRIES = (
    "Retail",
    "Manufacturing",
    "Technology",
    "Healthcare",
    "Hospitality",
    "Construction",
    "Professional Services",
    "Logistics",
    "Education",
    "Public Sector",
    "Internal",
)
INTERNAL_INDUSTRY = INDUSTRIES.index("Internal")

# Final contact status of a customer; a non-active status arrives as a later version.
CONTACT_STATUS_WEIGHTS = (0.88, 0.04, 0.05, 0.03)

# (display name, ascii form used in e-mail addresses)
FIRST_NAMES = (
    ("Anna", "anna"),
    ("Lukas", "lukas"),
    ("Marie", "marie"),
    ("Jonas", "jonas"),
    ("Sophie", "sophie"),
    ("Leon", "leon"),
    ("Emma", "emma"),
    ("Paul", "paul"),
    ("Mia", "mia"),
    ("Felix", "felix"),
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Chloé", "chloe"),
    ("Luca", "luca"),
    ("Giulia", "giulia"),
    ("Hugo", "hugo"),
    ("Inès", "ines"),
    ("Liam", "liam"),
    ("Olivia", "olivia"),
    ("Noah", "noah"),
    ("Sofía", "sofia"),
    ("Mateo", "mateo"),
    ("Lotte", "lotte"),
    ("Daan", "daan"),
    ("Fenna", "fenna"),
    ("Aoife", "aoife"),
    ("Seán", "sean"),
    ("Emily", "emily"),
    ("James", "james"),
    ("Grace", "grace"),
    ("Jakob", "jakob"),
    ("Lena", "lena"),
    ("Björn", "bjorn"),
    ("Søren", "soren"),
    ("Elif", "elif"),
)
LAST_NAMES = (
    ("Müller", "mueller"),
    ("Schmidt", "schmidt"),
    ("Schneider", "schneider"),
    ("Fischer", "fischer"),
    ("Weber", "weber"),
    ("Becker", "becker"),
    ("Hoffmann", "hoffmann"),
    ("Wagner", "wagner"),
    ("Martin", "martin"),
    ("Bernard", "bernard"),
    ("Dubois", "dubois"),
    ("Lefèvre", "lefevre"),
    ("Rossi", "rossi"),
    ("Russo", "russo"),
    ("Bianchi", "bianchi"),
    ("García", "garcia"),
    ("Fernández", "fernandez"),
    ("López", "lopez"),
    ("de Jong", "dejong"),
    ("Jansen", "jansen"),
    ("Peeters", "peeters"),
    ("Murphy", "murphy"),
    ("Kelly", "kelly"),
    ("Smith", "smith"),
    ("Jones", "jones"),
    ("Taylor", "taylor"),
    ("Brown", "brown"),
    ("Johnson", "johnson"),
    ("Williams", "williams"),
    ("Gruber", "gruber"),
    ("Huber", "huber"),
    ("Novak", "novak"),
)
BUSINESS_WORDS = (
    "Trading",
    "Logistics",
    "Systems",
    "Partners",
    "Consulting",
    "Foods",
    "Design",
    "Industries",
    "Solutions",
    "Media",
    "Supply",
    "Works",
    "Labs",
    "Services",
    "Holding",
    "Retail",
)
# Legal form suffix by country, in COUNTRIES order.
BUSINESS_SUFFIX = ("GmbH", "GmbH", "SARL", "B.V.", "BV", "S.r.l.", "S.L.", "Ltd", "Ltd", "Inc")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")

# Local time-of-day profile (orders per hour, relative).
HOURLY_PROFILE = (
    1,
    0.6,
    0.4,
    0.3,
    0.3,
    0.5,
    1.2,
    2.4,
    3.6,
    4.4,
    4.8,
    5.2,
    5.6,
    5.2,
    4.8,
    4.6,
    4.6,
    4.9,
    5.4,
    6.2,
    6.6,
    5.8,
    4.0,
    2.2,
)

# Final outcome of an order: cancelled orders have one version, refunds and
# partial returns arrive as a later version.
ORDER_OUTCOME_WEIGHTS = {"completed": 0.85, "cancelled": 0.05, "refunded": 0.04, "partially_returned": 0.06}
DISCOUNT_RATES_PCT = (5, 10, 15, 20, 25)
DISCOUNT_RATE_WEIGHTS = (0.35, 0.3, 0.15, 0.12, 0.08)
# Payment method weights per account type (ACCOUNT_TYPES order), PAYMENT_METHODS order.
PAYMENT_WEIGHTS = (
    (0.50, 0.30, 0.08, 0.07, 0.05),
    (0.15, 0.02, 0.23, 0.00, 0.60),
    (0.60, 0.20, 0.10, 0.05, 0.05),
    (0.40, 0.10, 0.10, 0.00, 0.40),
)

# Ticket severity weights per category (TICKET_CATEGORIES order).
SEVERITY_WEIGHTS = (
    (0.15, 0.40, 0.33, 0.12),
    (0.60, 0.30, 0.09, 0.01),
    (0.40, 0.45, 0.13, 0.02),
)
# Mean days to resolve per category.
RESOLVE_DAYS = (3.0, 1.0, 4.0)
