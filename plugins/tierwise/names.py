"""The names a run is made of: stages, quality gates and publish destinations.

Typed enums shared by the CLI, the DAGs and the stages, so that a misspelt name fails where it
is written (or when it is parsed from a command line or a DAG param), not deep in a stage.
Importing this module is cheap: DAG files use it at parse time.
"""

from __future__ import annotations

from enum import StrEnum


class StageName(StrEnum):
    INGEST = "ingest"
    VALIDATE = "validate"
    BUILD = "build"
    PUBLISH = "publish"
    SNAPSHOT = "snapshot"


class Gate(StrEnum):
    """The quality gates: the exports as loaded, and the marts dbt built."""

    RAW = "raw"
    MARTS = "marts"


class Destination(StrEnum):
    """Where publishing sends the tiers."""

    FILES = "files"
    DATABASE = "database"
    CRM = "crm"
    NOTIFICATIONS = "notifications"


DEFAULT_DESTINATIONS = (Destination.FILES, Destination.DATABASE)


# The rule behind each reason a customer is not eligible: what to change to grade them.
REASON_SETTINGS = {
    "no_crm_record": "var eligibility_without_crm_record: eligible",
    "deleted": "deleted in the CRM",
    "excluded_account_type": "var eligibility_excluded_account_types",
    "status_not_allowed": "var eligibility_allowed_statuses",
    "not_verified": "var eligibility_require_verified: false",
    "tenure_below_minimum": "var eligibility_min_tenure_months",
}
