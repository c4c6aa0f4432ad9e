"""dbt on Spark's session method, with the project's Python models run in that session.

Why this exists: dbt-spark 1.11 submits Python models only to Databricks (its job-cluster and
all-purpose-cluster helpers; elsewhere they fail with "Databricks cluster_id is required").
With ``method: session`` dbt is already a Spark client (here, of a Spark Connect server), so
the compiled model (dbt-spark's own ``py_write_table`` code, which ends by saving the frame
as a table) can run in dbt's process against that session. :func:`main` registers that as
submission method ``session``, the default, then runs dbt's command line. It changes two
properties of dbt-spark's adapter class in the dbt process only, before dbt starts, through
the attributes dbt-spark documents for submission helpers. Upstream it would be a
``SessionPythonJobHelper`` in dbt-spark, offered when the connection method is ``session``.
The transform stage runs dbt as ``python -c "...main()"`` when the engine is Spark.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.base.impl import PythonJobHelper


class SessionPythonJobHelper(PythonJobHelper):
    """Executes a compiled dbt Python model in this process's Spark session."""

    def __init__(self, parsed_model: dict[str, Any], credentials: Any) -> None:
        self.name = str(parsed_model["alias"])

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        # The compiled code expects a global `spark`, as a Databricks notebook has.
        namespace = {"spark": SparkSession.builder.getOrCreate(), "__name__": self.name}
        exec(compile(compiled_code, f"<dbt python model {self.name}>", "exec"), namespace)


def main() -> None:
    from dbt.adapters.spark.impl import SparkAdapter
    from dbt.cli.main import cli

    SparkAdapter.python_submission_helpers = property(  # type: ignore[assignment,method-assign]
        lambda self: {"session": SessionPythonJobHelper}
    )
    SparkAdapter.default_python_submission_method = property(  # type: ignore[assignment,method-assign]
        lambda self: "session"
    )
    cli()
