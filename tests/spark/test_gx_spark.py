"""What gx_spark adds to GX's Spark support: the bound session's getvariable() and the SQL checks as written.

Whole gate runs on Spark are in test_quality_gates_spark.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tierwise.engine.spark_server import LocalServer
from tierwise.quality.suites import SUITES, expectations_for

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture
def spark(spark_server: LocalServer) -> Iterator[SparkSession]:
    from tierwise.engine.spark import session_for

    yield session_for(spark_server.url)


def test_getvariable_returns_the_run_parameters_and_refuses_any_other_name(spark: SparkSession) -> None:
    from pyspark.errors import PySparkException

    from tierwise.quality.gx_spark import bind_session

    with bind_session(spark, {"tw_share": 0.25, "tw_rows": 3, "tw_after": "2025-01-01T00:00:00"}):
        row = spark.sql("select getvariable('tw_share'), getvariable('tw_rows')").collect()[0]
        assert tuple(row) == (0.25, 3.0)
        # A NULL bound would pass a check silently: a name without a number is an error.
        for name in ("tw_after", "tw_missing"):
            with pytest.raises(PySparkException, match="no numeric run parameter named"):
                spark.sql(f"select getvariable('{name}')").collect()
    with pytest.raises(PySparkException, match="getvariable"):  # gone with the run
        spark.sql("select getvariable('tw_share')").collect()


def _query(check: str) -> str:
    suite = next(spec.name for specs in SUITES.values() for spec in specs if check.startswith(spec.table))
    for expectation in expectations_for(suite):
        if expectation.meta and expectation.meta.get("check") == check:
            return str(expectation.configuration.kwargs["unexpected_rows_query"])
    raise AssertionError(check)


@pytest.mark.parametrize(
    ("columns", "failing"),
    [
        ("'C1' as customer_id", []),
        ("'C1' as customer_id, 1.5d as probability_alive", ["C1"]),
        ("'C1' as customer_id, 0.5d as probability_alive, -1.0d as predicted_clv", ["C1"]),
        ("'C1' as customer_id, 0.5d as probability_alive, 2.0d as predicted_clv, -3.0d as historic_clv", []),
    ],
)
def test_the_clv_range_check_runs_on_spark_with_or_without_the_optional_columns(
    spark: SparkSession, columns: str, failing: list[Any]
) -> None:
    spark.sql(f"create or replace temp view clv_batch as select {columns}")
    try:
        rows = spark.sql(_query("customer_value.clv_in_range").format(batch="clv_batch")).collect()
    finally:
        spark.catalog.dropTempView("clv_batch")
    assert [row["customer_id"] for row in rows] == failing
