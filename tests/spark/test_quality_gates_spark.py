"""The quality gates on Spark: the same suites, verdicts and stored results as on DuckDB.

One generated sample (with bad e-mails) is ingested and built twice, once on each engine, in a
module-scoped fixture (a Spark build costs ~75 s); each test then runs gates on it. On Spark GX
computes on the tables of Spark's catalog, not on the ledger's copy of raw: the failing-row test
writes its bad row into Spark only, and the gate must see it there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support import files_text, isolate_tierwise, leaks, personal_values
from tierwise.engine.spark_server import LocalServer
from tierwise.exceptions import QualityGateError
from tierwise.settings import EngineName, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
AS_OF = date(2025, 12, 31)
SAMPLE = ["--customers", "200", "--orders", "1500", "--seed", "11", "--dirty", "0.05"]
PERIOD = ["--start", "2025-10-01", "--end", "2025-12-31", "--no-progress"]
# What must agree between the engines, per check (times and run ids differ).
COMPARED = "suite, check_name, severity, outcome, success, observed_value, element_count, unexpected_count"


@dataclass(frozen=True)
class Sample:
    """The same data built on both engines: each engine's settings (ledger, GX project)."""

    root: Path
    spark: Settings
    duckdb: Settings


def _clear_catalog(server: LocalServer) -> None:
    from tierwise.engine.spark import session_for

    spark = session_for(server.url)
    for database in spark.catalog.listDatabases():
        if database.name != "default":
            spark.sql(f"drop database if exists `{database.name}` cascade")


def _expectations(root: Path) -> Path:
    import shutil

    target = root / "expectations"
    shutil.copytree(REPO / "expectations", target, ignore=shutil.ignore_patterns("uncommitted"))
    return target


def _pipeline(patch: pytest.MonkeyPatch, engine: EngineName, root: Path) -> Settings:
    from tierwise.cli import main

    patch.setenv("TIERWISE_ENGINE", engine.value)
    patch.setenv("TIERWISE_WAREHOUSE", str(root / "warehouse" / "tierwise.duckdb"))
    patch.setenv("TIERWISE_EXPECTATIONS_DIR", str(_expectations(root)))
    patch.setenv("TIERWISE_LOG_DIR", str(root / "logs"))
    assert main(["ingest"]) == 0
    assert main(["build", "--as-of", AS_OF.isoformat()]) == 0
    return load_settings()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, spark_server: LocalServer) -> Iterator[Sample]:
    from tierwise_dev.cli import main as dev_main

    root = tmp_path_factory.mktemp("gates")
    patch = isolate_tierwise(root)
    try:
        patch.setenv("TIERWISE_SPARK_DIR", str(spark_server.directory))
        patch.setenv("TIERWISE_SPARK_PORT", str(spark_server.port))
        assert dev_main(["generate", "--out", str(root / "data"), *SAMPLE, *PERIOD]) == 0
        _clear_catalog(spark_server)
        spark = _pipeline(patch, EngineName.SPARK, root / "spark")
        duck = _pipeline(patch, EngineName.DUCKDB, root / "duckdb")
        yield Sample(root, spark, duck)
    finally:
        _clear_catalog(spark_server)
        patch.undo()


def _run_gate(settings: Settings, run_id: str, gate: str) -> tuple[float, QualityGateError | None]:
    from tierwise.context import RunContext
    from tierwise.quality import run_gate

    ctx = RunContext.create(run_id, settings=settings, as_of_date=AS_OF)
    started = time.perf_counter()
    try:
        run_gate(ctx, gate)
    except QualityGateError as failed:  # the dirty sample may fail a format check: results are stored
        return time.perf_counter() - started, failed
    return time.perf_counter() - started, None


def _stored(settings: Settings, run_id: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(
            f"select {COMPARED} from ops.quality_results where run_id = ? order by suite, check_name",
            [run_id],
        ).fetchall()


def _details(settings: Settings, run_id: str, check: str) -> dict[str, Any]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        row = con.execute(
            "select details from ops.quality_results where run_id = ? and check_name = ?", [run_id, check]
        ).fetchone()
    assert row is not None, check
    return dict(json.loads(row[0]))


def test_both_gates_on_spark_store_the_results_duckdb_stores(sample: Sample) -> None:
    timings = {}
    for engine, settings in (("spark", sample.spark), ("duckdb", sample.duckdb)):
        for gate in ("raw", "marts"):
            timings[engine, gate] = _run_gate(settings, f"{engine}-run", gate)[0]
    spark, duck = _stored(sample.spark, "spark-run"), _stored(sample.duckdb, "duckdb-run")
    assert len(spark) == 47 + 14
    assert spark == duck
    # The sample's bad e-mails were found, by Spark, with the rows that hold them.
    warned = {row[1] for row in spark if row[3] == "warned"}
    assert "contacts.email_format_warn" in warned
    failing = _details(sample.spark, "spark-run", "contacts.email_format_warn")["failing_rows"]
    assert failing and all({"_source_file", "_source_line"} <= set(row) for row in failing)
    assert all(str(row["email"]).startswith("<email:") for row in failing if row.get("email") is not None)
    print("gate seconds:", {f"{engine} {gate}": round(s, 1) for (engine, gate), s in timings.items()})


def test_a_failing_critical_raw_expectation_on_spark_fails_the_gate(sample: Sample) -> None:
    from pyspark.sql import functions as F

    from tierwise.engine.spark import SparkEngine

    spark = SparkEngine(sample.spark).session()
    # A bad order line in Spark's raw table only, in a partition of its own: not in the ledger.
    schema = spark.table("raw.orders").schema
    row = spark.table("raw.orders").limit(1).collect()
    changes = {"status": "shipped", "_source_line": 99_999, "_load": "bad-row"}
    bad = spark.createDataFrame(row, schema).select(
        *(
            F.lit(changes[field.name]).cast(field.dataType).alias(field.name)
            if field.name in changes
            else F.col(field.name)
            for field in schema.fields
        )
    )
    bad.write.insertInto("raw.orders")
    try:
        _, failed = _run_gate(sample.spark, "bad-row", "raw")
    finally:
        spark.sql("alter table raw.orders drop if exists partition (_load = 'bad-row')")
    assert failed is not None
    assert "orders.status_allowed" in str(failed)
    assert {"_source_file": row[0]["_source_file"], "_source_line": 99_999} in [
        {key: failing.get(key) for key in ("_source_file", "_source_line")}
        for failing in _details(sample.spark, "bad-row", "orders.status_allowed")["failing_rows"]
    ]
    with duckdb.connect(str(sample.spark.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.orders where status = 'shipped'").fetchone() == (0,)


def test_no_email_or_phone_in_spark_gate_results_docs_or_logs(
    sample: Sample, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = replace(sample.spark, expectations_dir=_expectations(sample.root / "personal"))
    capfd.readouterr()
    _run_gate(settings, "personal", "raw")
    console = capfd.readouterr()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        stored = con.execute(
            "select check_name || '|' || coalesce(details, '') from ops.quality_results where run_id = ?",
            ["personal"],
        ).fetchall()
    surfaces = {
        **files_text(settings.expectations_dir / "gx" / "uncommitted"),
        **files_text(settings.log_dir),
        "ops.quality_results": "\n".join(text for (text,) in stored),
        "console": console.out + console.err,
    }
    assert any("validations" in name and name.endswith(".json") for name in surfaces)
    assert any("data_docs" in name and name.endswith(".html") for name in surfaces)
    assert "contacts.email_format_warn|" in surfaces["ops.quality_results"]
    values = personal_values(settings.warehouse)
    assert len(values) > 100
    found = leaks(values, surfaces)
    assert found == [], f"{len(found)} leaks, e.g. {found[:5]}"
