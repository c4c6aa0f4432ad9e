"""
### What-if: a proposed tier ladder and rules, before they go live

Manual only. Evaluates the proposed ladder (param `ladder`, a CSV with the
columns of `dbt_project/seeds/tier_ladder.csv` that the workers can read) and
rules (param `dbt_vars`) on a copy of the warehouse, for the evaluation of the
live marts or the date given (param `as_of_date`), and writes a report
(`report.html`, `changes.csv`, `summary.json`) under
`<publish folder>/simulations/`. The live marts, the build state and every
destination stay as they are; nothing is published. Invalid rules fail the
task with the message a live build would give. Same as `tierwise simulate`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from tierwise.orchestration import dag_defaults, params


@dag(
    dag_id="tierwise_simulate",
    schedule=None,
    **dag_defaults(),
    tags=["tierwise", "review"],
    doc_md=__doc__,
    params=params(
        "ladder",
        "dbt_vars",
        "as_of_date",
        described={"as_of_date": "Evaluation date; default: the evaluation the live marts hold"},
    ),
)
def tierwise_simulate() -> None:
    @task(task_id="simulate")
    def simulate() -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from tierwise.orchestration import simulation

        return simulation(get_current_context())

    simulate()


tierwise_simulate()
