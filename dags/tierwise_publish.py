"""
### Publish the validated tiers to the operational tools

Triggered by the validated-marts Asset. Sends only what changed since the
last sync to the operational database, the CRM API and the marketing files,
provided the marts passed the marts gate: a publish task refuses marts whose
latest gate failed or did not run. Param `override_marts_gate` (a reason)
publishes them anyway; the override is recorded in `ops.sync_runs`.
Tier-change notifications go out with the monthly review only.
"""

from __future__ import annotations

from airflow.sdk import dag

from tierwise.assets import MARTS_VALIDATED
from tierwise.orchestration import dag_defaults, params, step_tasks
from tierwise.pipeline import Destination, publish_step

DESTINATIONS = (Destination.FILES, Destination.DATABASE, Destination.CRM)


@dag(
    dag_id="tierwise_publish",
    schedule=[MARTS_VALIDATED],
    **dag_defaults(),
    tags=["tierwise", "publish"],
    doc_md=__doc__,
    params=params("as_of_date", "dry_run_publish", "override_marts_gate"),
)
def tierwise_publish() -> None:
    step_tasks((tuple(publish_step(f"publish_{name}", (name,)) for name in DESTINATIONS),))


tierwise_publish()
