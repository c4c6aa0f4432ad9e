"""The whole pipeline on Spark local mode equals the pipeline on DuckDB, on the same exports.

One generated sample (with bad rows and bad e-mails) goes through ``tierwise run`` (ingest, the
raw gate, dbt build, the marts gate, publishing to files) once on each engine, in a
module-scoped fixture (a Spark build costs ~75 s). The tests compare what a user gets: the row
accounting, Spark's raw tables, every mart (keys exact, money within 0.01, CLV's fitted
parameters to 1e-6), the published files, and the quality gates, run again on the built
warehouses: the same suites, verdicts and stored results. On Spark GX computes on the tables of
Spark's catalog, not on the ledger's copy of raw: the failing-row test writes its bad row into
Spark only, and the gate must see it there.
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
    patch.setenv("TIERWISE_PUBLISH_DIR", str(root / "publish"))
    assert main(["run", "--as-of", AS_OF.isoformat(), "--destination", "files"]) == 0
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


MART_KEYS = {
    "customers": ("customer_id",),
    "orders": ("order_id",),
    "customer_value": ("customer_id",),
    "customer_tiers": ("customer_id",),
    "customer_tier_history": ("customer_id", "as_of_date"),
    "tier_changes": ("change_key",),
    "tier_summary": ("tier_code",),
    "clv_fit_diagnostics": ("model_name",),
}
TOLERANCE = 0.01  # money and the other decimals; the CLV parameters have their own


@pytest.fixture(scope="module")
def both(sample: Sample) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection with the DuckDB warehouse as ``d`` and the Spark run's ledger as ``s``."""
    con = duckdb.connect()
    con.execute(f"attach '{sample.duckdb.warehouse}' as d (read_only)")
    con.execute(f"attach '{sample.spark.warehouse}' as s (read_only)")
    yield con
    con.close()


def _mismatches(con: duckdb.DuckDBPyConnection, table: str, keys: tuple[str, ...]) -> dict[str, int]:
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'd' and table_schema = 'marts' and table_name = ?",
        [table],
    ).fetchall()
    on = " and ".join(f"a.{key} = b.{key}" for key in keys)
    found: dict[str, int] = {}
    for column, kind in columns:
        if column in keys or column == "parameters_json":  # the parameters: test_clv_parameters_agree
            continue
        differs = (
            f"abs(a.{column} - b.{column}) > {TOLERANCE} or (a.{column} is null) <> (b.{column} is null)"
            if str(kind).startswith(("DECIMAL", "DOUBLE", "FLOAT"))
            else f"a.{column} is distinct from b.{column}"
        )
        if table == "clv_fit_diagnostics" and (column.startswith("param_") or column == "degenerate_reason"):
            # A fit the data do not determine (both engines say so) has no parameters to agree on.
            differs = f"({differs}) and a.degenerate_reason is null and b.degenerate_reason is null"
        count = con.execute(
            f"select count(*) from d.marts.{table} a join s.marts.{table} b on {on} where {differs}"
        ).fetchone()
        if count and count[0]:
            found[column] = int(count[0])
    return found


@pytest.mark.parametrize("table", sorted(MART_KEYS))
def test_every_mart_equals_duckdbs(both: duckdb.DuckDBPyConnection, table: str) -> None:
    keys = MART_KEYS[table]
    counts = [both.execute(f"select count(*) from {db}.marts.{table}").fetchone() for db in ("d", "s")]
    assert counts[0] == counts[1]
    assert counts[0] and counts[0][0] > 0
    on = " and ".join(f"a.{key} = b.{key}" for key in keys)
    joined = both.execute(f"select count(*) from d.marts.{table} a join s.marts.{table} b on {on}").fetchone()
    assert joined == counts[0], "the same keys on both engines"
    assert _mismatches(both, table, keys) == {}


def test_clv_parameters_agree(both: duckdb.DuckDBPyConnection) -> None:
    flags = "select model_name, degenerate_reason is null from {db}.marts.clv_fit_diagnostics order by 1"
    assert both.execute(flags.format(db="s")).fetchall() == both.execute(flags.format(db="d")).fetchall()
    # The parameters of the fits the data determine (on this small sample, BG/NBD's at least).
    rows = both.execute(
        "select a.parameters_json, b.parameters_json from d.marts.clv_fit_diagnostics a "
        "join s.marts.clv_fit_diagnostics b using (model_name) "
        "where a.degenerate_reason is null and b.degenerate_reason is null"
    ).fetchall()
    assert rows
    for duck, spark in rows:
        expected, got = json.loads(duck), json.loads(spark)
        assert got.keys() == expected.keys()
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-6), name


def test_the_same_rows_were_read_loaded_and_quarantined(both: duckdb.DuckDBPyConnection) -> None:
    accounting = (
        "select entity, file_path, rows_read, rows_loaded, rows_quarantined from {db}.ops.load_manifest "
        "where is_current order by all"
    )
    assert (
        both.execute(accounting.format(db="s")).fetchall()
        == both.execute(accounting.format(db="d")).fetchall()
    )
    reasons = "select reason, count(*) from {db}.quarantine.{table} group by all order by all"
    for table in ("orders", "contacts", "tickets"):
        duck = both.execute(reasons.format(db="d", table=table)).fetchall()
        assert both.execute(reasons.format(db="s", table=table)).fetchall() == duck
    quarantined = both.execute("select sum(rows_quarantined) from s.ops.load_manifest").fetchone()
    assert quarantined and quarantined[0] > 0


def test_sparks_raw_tables_hold_every_loaded_row(sample: Sample) -> None:
    from tierwise.engine.spark import SparkEngine

    spark = SparkEngine(sample.spark).session()
    with duckdb.connect(str(sample.spark.warehouse), read_only=True) as ledger:
        for table in ("orders", "contacts", "tickets"):
            loaded = ledger.execute(
                f"select count(*), count(distinct _source_file) from raw.{table}"
            ).fetchone()
            query = f"select count(*), count(distinct _source_file) from raw.{table}"
            assert tuple(spark.sql(query).collect()[0]) == loaded


def _published(settings: Settings) -> dict[str, list[list[str]]]:
    import csv

    folder = settings.publish_dir / "files"
    return {
        path.name: sorted(csv.reader(path.read_text(encoding="utf-8").splitlines()))
        for path in sorted(folder.glob("*.csv"))
    }


def _same_field(duck: str, spark: str) -> bool:
    try:
        return abs(float(duck) - float(spark)) <= TOLERANCE
    except ValueError:
        return duck == spark


def test_the_published_files_are_the_same(sample: Sample) -> None:
    duck, spark = _published(sample.duckdb), _published(sample.spark)
    assert duck and duck.keys() == spark.keys()
    for name, rows in duck.items():
        assert len(spark[name]) == len(rows), name
        for expected, got in zip(rows, spark[name], strict=True):
            assert len(got) == len(expected)
            assert all(_same_field(a, b) for a, b in zip(expected, got, strict=True)), (name, expected, got)
