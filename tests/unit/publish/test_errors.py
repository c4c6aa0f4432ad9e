"""The publish errors: which ones stop a destination, and that their text leaves masked."""

from __future__ import annotations

from datetime import date

from tierwise.exceptions import PublishError
from tierwise.publish.errors import BatchRejectedError, DestinationUnavailableError, PublishFailedError
from tierwise.publish.report import PublishReport, StreamReport


def test_a_failed_publish_carries_what_every_destination_did() -> None:
    report = PublishReport("r1", date(2024, 1, 31), False, (StreamReport("crm", "crm.hubspot", "failed"),))
    error = PublishFailedError("publish failed for 1 stream(s): crm.hubspot: HTTP 503", report)
    assert isinstance(error, PublishError)
    assert error.report is report
    assert str(error) == "publish failed for 1 stream(s): crm.hubspot: HTTP 503"


def test_messages_quoting_a_destination_are_masked() -> None:
    error = DestinationUnavailableError("crm: HTTP 401 for Bearer abc123def sent by jane@example.com")
    text = str(error)
    assert text.startswith("crm: HTTP 401 for Bearer *** sent by <email:")
    assert "abc123def" not in text and "jane@example.com" not in text


def test_a_rejected_batch_is_split_by_the_engine_not_raised_as_a_publish_error() -> None:
    assert issubclass(DestinationUnavailableError, PublishError)
    assert issubclass(PublishFailedError, PublishError)
    assert not issubclass(BatchRejectedError, PublishError)
