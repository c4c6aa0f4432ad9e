"""Publishing customer tiers back to operational tools (files, database, CRM, notifications).

Entry point: :func:`publish`. Every record destination goes through one sync engine
(:mod:`tierwise.publish.engine`) that sends only new, changed, retried or removed records
and keeps per-record state in ``ops.sync_state``, per-run counts in ``ops.sync_runs`` and
the message a notification channel is sending in ``ops.sync_inflight``. Tier changes go
out from a revision log (:mod:`tierwise.publish.revisions`), so that a rebuilt evaluation
revises or retracts what was published of it. What "once" means per destination:
README.md, "Publishing".
"""

from __future__ import annotations

from tierwise.publish.report import PublishReport, StreamReport
from tierwise.publish.service import DESTINATION_NAMES, publish

__all__ = ["DESTINATION_NAMES", "PublishReport", "StreamReport", "publish"]
