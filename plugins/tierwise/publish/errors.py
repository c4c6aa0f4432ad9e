"""Errors of the publish stage (subclasses of :class:`tierwise.exceptions.PublishError`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierwise.exceptions import PublishError

if TYPE_CHECKING:
    from tierwise.publish.report import PublishReport


class BatchRejectedError(Exception):
    """The destination refused a whole batch because of its content (HTTP 400, a constraint).

    Not a PublishError: the engine catches it and splits the batch to find the bad records.
    """


class DestinationUnavailableError(PublishError):
    """A destination cannot be reached or refuses us (outage after retries, bad credentials)."""


class PublishFailedError(PublishError):
    """At least one destination failed; ``report`` holds what every destination did."""

    def __init__(self, message: str, report: PublishReport) -> None:
        super().__init__(message)
        self.report = report
