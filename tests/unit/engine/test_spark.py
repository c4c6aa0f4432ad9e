"""The Spark engine's choices that need no server: where Spark is, what dbt is given, what is shown."""

from __future__ import annotations

from pathlib import Path

from tests.support import settings

from tierwise.engine import EngineName, make_engine
from tierwise.engine.spark import SparkEngine


def test_the_settings_pick_the_spark_engine(tierwise_env: Path) -> None:
    engine = make_engine(settings(engine=EngineName.SPARK))
    assert isinstance(engine, SparkEngine)
    assert engine.name is EngineName.SPARK


def test_without_a_remote_the_engine_uses_a_local_server(tierwise_env: Path) -> None:
    engine = SparkEngine(settings(spark_port=15123, spark_dir=tierwise_env / "spark"))
    assert engine.server is not None
    assert engine.server.directory == tierwise_env / "spark"
    assert engine.url == "sc://127.0.0.1:15123"
    assert engine.dbt_env()["SPARK_REMOTE"] == "sc://127.0.0.1:15123"
    assert engine.dbt_env()["TIERWISE_DBT_TARGET"] == "spark"


def test_a_remote_server_is_used_as_given_and_its_token_never_shown(tierwise_env: Path) -> None:
    engine = SparkEngine(settings(spark_remote="sc://spark.example:443/;token=s3cret;use_ssl=true"))
    assert engine.server is None
    assert engine.dbt_env()["SPARK_REMOTE"] == "sc://spark.example:443/;token=s3cret;use_ssl=true"
    assert "s3cret" not in engine.location
    assert "s3cret" not in engine.dbt_env()["TIERWISE_SPARK_HOST"]


def test_the_ledger_is_the_warehouse_file(tierwise_env: Path) -> None:
    engine = SparkEngine(settings(tierwise_env / "ledger.duckdb"))
    assert not engine.exists()
    with engine.connect() as con:
        con.execute("create table t as select 1 as x")
    assert engine.exists()
    assert str(tierwise_env / "ledger.duckdb") in engine.location


def test_dbt_runs_with_the_session_submission_helper(tierwise_env: Path) -> None:
    engine = SparkEngine(settings())
    assert "tierwise.engine.spark_dbt" in engine.dbt_launcher()


def test_a_logger_class_left_behind_by_pyspark_is_undone() -> None:
    import logging

    from pyspark.logger import PySparkLogger

    from tierwise.engine.spark import keep_standard_loggers
    from tierwise.masking import get_logger

    logging.setLoggerClass(PySparkLogger)  # what pyspark's unlocked class swap can leave behind
    try:
        logger = get_logger("tierwise.tests.after_pyspark")
        assert type(logger) is logging.Logger
        logging.setLoggerClass(PySparkLogger)
        keep_standard_loggers()
        assert logging.getLoggerClass() is logging.Logger
    finally:
        logging.setLoggerClass(logging.Logger)
