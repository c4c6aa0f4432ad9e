"""The whole pipeline on Spark local mode equals the pipeline on DuckDB, on the same exports.

``tierwise run`` runs once per engine on one generated sample (with bad rows): ingest, the raw
gate, dbt build, the marts gate and publishing to files. The test compares what a user gets:
the row accounting, Spark's raw tables, every mart (keys exact, money within 0.01, CLV's
fitted parameters to 1e-6) and the published files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.spark.conftest import clear_catalog
from tests.support import isolate_tierwise
from tierwise.engine.spark_server import LocalServer

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2025-12-31"
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
MONEY_TOLERANCE = 0.01


def _run(root: Path, data: Path, engine: str, server: LocalServer | None) -> Path:
    """``tierwise run`` in a workspace of its own; the workspace."""
    from tierwise.cli import main

    patch = isolate_tierwise(root)
    try:
        patch.setenv("TIERWISE_DATA_DIR", str(data))
        # Data Docs are written beside the suites: a copy keeps the checkout clean.
        shutil.copytree(
            REPO / "expectations", root / "expectations", ignore=shutil.ignore_patterns("uncommitted")
        )
        patch.setenv("TIERWISE_EXPECTATIONS_DIR", str(root / "expectations"))
        patch.setenv("TIERWISE_ENGINE", engine)
        if server is not None:
            patch.setenv("TIERWISE_SPARK_DIR", str(server.directory))
            patch.setenv("TIERWISE_SPARK_PORT", str(server.port))
        assert main(["run", "--as-of", AS_OF, "--destination", "files"]) == 0
    finally:
        patch.undo()
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, spark_server: LocalServer) -> Iterator[dict[str, Path]]:
    from tierwise_dev.generate import generate

    data = tmp_path_factory.mktemp("exports")
    generate(
        data, customers=400, orders=2_500, seed=18, dirty=0.01, start=date(2025, 4, 1), end=date(2025, 12, 31)
    )
    clear_catalog(spark_server)
    yield {
        "duckdb": _run(tmp_path_factory.mktemp("on_duckdb"), data, "duckdb", None),
        "spark": _run(tmp_path_factory.mktemp("on_spark"), data, "spark", spark_server),
    }
    clear_catalog(spark_server)


def _warehouse(root: Path) -> Path:
    return root / "warehouse" / "tierwise.duckdb"


@pytest.fixture(scope="module")
def both(runs: dict[str, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection with the DuckDB warehouse as ``d`` and the Spark run's ledger as ``s``."""
    con = duckdb.connect()
    con.execute(f"attach '{_warehouse(runs['duckdb'])}' as d (read_only)")
    con.execute(f"attach '{_warehouse(runs['spark'])}' as s (read_only)")
    yield con
    con.close()


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'd' and table_schema = 'marts' and table_name = ?",
        [table],
    ).fetchall()
    return dict(rows)


def _mismatches(con: duckdb.DuckDBPyConnection, table: str, keys: tuple[str, ...]) -> dict[str, Any]:
    on = " and ".join(f"a.{key} = b.{key}" for key in keys)
    found: dict[str, Any] = {}
    for column, kind in _columns(con, table).items():
        if column in keys:
            continue
        if kind.startswith(("DECIMAL", "DOUBLE", "FLOAT")):
            differs = (
                f"abs(a.{column} - b.{column}) > {MONEY_TOLERANCE} "
                f"or (a.{column} is null) <> (b.{column} is null)"
            )
        elif column == "parameters_json":
            continue  # compared with the fitted parameters' own tolerance below
        else:
            differs = f"a.{column} is distinct from b.{column}"
        count = con.execute(
            f"select count(*) from d.marts.{table} a join s.marts.{table} b on {on} where {differs}"
        ).fetchone()
        if count and count[0]:
            found[column] = count[0]
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
    rows = both.execute(
        "select a.model_name, a.parameters_json, b.parameters_json from d.marts.clv_fit_diagnostics a "
        "join s.marts.clv_fit_diagnostics b using (model_name)"
    ).fetchall()
    assert len(rows) == 2
    for _, duck, spark in rows:
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
        both.execute(accounting.format(db="d")).fetchall()
        == both.execute(accounting.format(db="s")).fetchall()
    )
    reasons = "select source, reason, count(*) from {db}.quarantine.{table} group by all order by all"
    for table in ("orders", "contacts", "tickets"):
        duck = both.execute(reasons.format(db="d", table=table)).fetchall()
        assert duck == both.execute(reasons.format(db="s", table=table)).fetchall()
    assert both.execute("select sum(rows_quarantined) from s.ops.load_manifest").fetchone()[0] > 0


def test_sparks_raw_tables_hold_every_loaded_row(runs: dict[str, Path], spark_server: LocalServer) -> None:
    from tierwise.engine.spark import session_for

    spark = session_for(spark_server.url)
    with duckdb.connect(str(_warehouse(runs["spark"])), read_only=True) as ledger:
        for table in ("orders", "contacts", "tickets"):
            loaded = ledger.execute(
                f"select count(*), count(distinct _file_checksum) from raw.{table}"
            ).fetchone()
            on_spark = spark.sql(
                f"select count(*), count(distinct _file_checksum) from raw.{table}"
            ).collect()[0]
            assert tuple(on_spark) == loaded


def test_both_gates_recorded_the_same_outcomes(both: duckdb.DuckDBPyConnection) -> None:
    query = (
        "select gate, suite, check_name, severity, success, unexpected_count from {db}.ops.quality_results "
        "order by all"
    )
    duck = both.execute(query.format(db="d")).fetchall()
    assert {row[0] for row in duck} == {"raw", "marts"}
    assert both.execute(query.format(db="s")).fetchall() == duck


def test_the_published_files_are_the_same(runs: dict[str, Path]) -> None:
    def files(root: Path) -> dict[str, bytes]:
        folder = root / "publish"
        return {
            str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*.csv"))
            if "bi" not in path.parts
        }

    duck, spark = files(runs["duckdb"]), files(runs["spark"])
    assert duck and duck.keys() == spark.keys()
    assert duck == spark
