"""The names a run is made of, as the CLI, the DAGs and the stages spell them."""

from __future__ import annotations

from tierwise.cli import build_parser
from tierwise.names import DEFAULT_DESTINATIONS, Destination, Gate
from tierwise.publish import DESTINATION_NAMES
from tierwise.publish.service import BUILDERS


def test_publishing_knows_every_destination_and_builds_all_but_files() -> None:
    assert DESTINATION_NAMES == ("files", "database", "crm", "notifications")
    assert set(BUILDERS) == set(Destination) - {Destination.FILES}
    assert DEFAULT_DESTINATIONS == (Destination.FILES, Destination.DATABASE)


def test_the_cli_offers_exactly_the_gates_and_destinations() -> None:
    args = build_parser().parse_args(["validate", "--gate", "marts"])
    assert Gate(args.gate) is Gate.MARTS
    args = build_parser().parse_args(["run", "--destination", "crm", "--destination", "notifications"])
    assert [Destination(name) for name in args.destination] == [Destination.CRM, Destination.NOTIFICATIONS]
