"""dbt on Spark's session method, with the project's Python models run in that session.

Why this launcher exists: dbt-spark 1.11 submits Python models only to Databricks (its
job-cluster and all-purpose-cluster helpers; elsewhere they fail with "Databricks
cluster_id is required"). With ``method: session`` dbt already runs inside the Spark
driver, so the compiled model (dbt-spark's own ``py_write_table`` code, which ends by
saving the frame as a table) can simply be executed in that process against the active
SparkSession. This file registers that as submission method ``session``, the default,
then runs dbt with the given arguments. Upstream it would be a SessionPythonJobHelper in
dbt-spark, offered when the connection method is session. Preview of issue 18: run with
the scratch environment of dbt_project/README.md, "Running on Spark (preview)".

    python dbt_project/spark/dbt_session.py build --project-dir dbt_project ...
"""

import sys
from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.spark.impl import SparkAdapter
from dbt.cli.main import dbtRunner


class SessionPythonJobHelper(PythonJobHelper):
    """Executes a compiled dbt Python model in this process's SparkSession."""

    def __init__(self, parsed_model: dict[str, Any], credentials: Any) -> None:
        self.name = str(parsed_model["alias"])

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        # The compiled code expects a global `spark`, as a Databricks notebook has.
        namespace = {"spark": SparkSession.builder.getOrCreate(), "__name__": self.name}
        exec(compile(compiled_code, f"<dbt python model {self.name}>", "exec"), namespace)


SparkAdapter.python_submission_helpers = property(lambda self: {"session": SessionPythonJobHelper})
SparkAdapter.default_python_submission_method = property(lambda self: "session")

if __name__ == "__main__":
    sys.exit(0 if dbtRunner().invoke(sys.argv[1:]).success else 1)
