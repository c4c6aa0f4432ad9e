"""Publishing customer tiers back to operational tools (files, database, CRM, notifications).

Entry point: :func:`publish`. Every record destination goes through one sync engine
(:mod:`tierwise.publish.engine`) that sends only new, changed, retried or removed records
and keeps per-record state in ``ops.sync_state`` and per-run counts in ``ops.sync_runs``.
"""

from __future__ import annotations

from tierwise.publish.report import PublishReport, StreamReport
from tierwise.publish.service import DESTINATION_NAMES, publish

__all__ = ["DESTINATION_NAMES", "PublishReport", "StreamReport", "publish"]
