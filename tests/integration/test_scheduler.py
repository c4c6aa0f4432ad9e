"""Real Airflow services: scheduler, dag-processor and api-server on PostgreSQL metadata.

The DAG is triggered through the REST API, a backfill is created with
`airflow backfill create`, and the marts they produce are compared with a
single full run of the same stages outside Airflow.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest
from tests.support import isolate_tierwise

from tierwise.schema import ENTITIES

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PG_DSN = os.environ.get("TIERWISE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SAMPLE_START, SAMPLE_END = date(2025, 12, 24), date(2025, 12, 31)
COMPARED = {
    "customer_value": "customer_id, orders_count, net_revenue, recency_days, frequency, monetary",
    "customer_tiers": "customer_id, abc_class, tier_code, is_eligible, measure_value",
}


def _postgres_or_skip() -> None:
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {PG_DSN}: {error}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _create_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')
        con.execute(f'create database "{name}"')


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')


def _wait_for(check, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    _postgres_or_skip()
    from tierwise.airflow_local import airflow_command, airflow_env
    from tierwise.orchestration import WRITER_POOL
    from tierwise_dev.generate import generate

    root = tmp_path_factory.mktemp("scheduler")
    patch = isolate_tierwise(root)
    generate(
        root / "data", customers=300, orders=2_000, seed=5, dirty=0.0, start=SAMPLE_START, end=SAMPLE_END
    )

    database = f"tierwise_airflow_{os.getpid()}"
    _create_database(database)
    port = _free_port()
    metadata = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{database}"
    env = airflow_env(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            # psycopg 3 serves the async engine too (asyncpg is not in the lock).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API_AUTH__JWT_SECRET": "tierwise-scheduler-test-only",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "TIERWISE_TASK_RETRIES": "0",
        }
    )
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(airflow_command(*args), env=env, capture_output=True, text=True, check=False)

    assert cli("db", "migrate").returncode == 0
    assert cli("pools", "set", WRITER_POOL, "1", "DuckDB single writer").returncode == 0
    services = []
    for service in (("api-server", "--port", str(port)), ("scheduler",), ("dag-processor",)):
        handle = (logs / f"{service[0]}.log").open("w")
        services.append(
            subprocess.Popen(airflow_command(*service), env=env, stdout=handle, stderr=subprocess.STDOUT)
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v2", timeout=30)
    try:
        _wait_for(lambda: client.get("/monitor/health").status_code == 200, 120, "the api-server")
        yield {"client": client, "cli": cli, "root": root, "logs": logs}
    finally:
        client.close()
        for process in services:
            process.terminate()
        for process in services:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        _drop_database(database)
        patch.undo()


def _wait_dag(client: httpx.Client, dag_id: str) -> None:
    _wait_for(lambda: client.get(f"/dags/{dag_id}").status_code == 200, 180, f"{dag_id} to be parsed")


def _runs(client: httpx.Client, dag_id: str) -> list[dict]:
    response = client.get(f"/dags/{dag_id}/dagRuns", params={"limit": 100})
    response.raise_for_status()
    return response.json()["dag_runs"]


def _wait_runs_done(
    client: httpx.Client, dag_id: str, expected: int, timeout: float, run_type: str | None = None
) -> list[dict]:
    def done() -> list[dict] | None:
        runs = [r for r in _runs(client, dag_id) if run_type in (None, r["run_type"])]
        finished = [r for r in runs if r["state"] in {"success", "failed"}]
        return runs if len(runs) >= expected and len(finished) == len(runs) else None

    return _wait_for(done, timeout, f"{expected} finished runs of {dag_id}")


def _full_run_marts(root: Path) -> dict[str, list[tuple]]:
    """The same sample through the same stages, outside Airflow, into another warehouse."""
    from tierwise import pipeline

    warehouse = root / "single" / "tierwise.duckdb"
    os.environ["TIERWISE_WAREHOUSE"] = str(warehouse)
    ctx = pipeline.RunContext.create("single_full_run", as_of_date=SAMPLE_END)
    for source in ENTITIES:
        pipeline.ingest(ctx, source)
    pipeline.build(ctx)
    return _marts(warehouse)


def _marts(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select {columns} from marts.{table} order by customer_id").fetchall()
            for table, columns in COMPARED.items()
        }


def test_backfill_then_main_dag_through_rest_equals_a_single_full_run(airflow: dict) -> None:
    client, cli = airflow["client"], airflow["cli"]
    for dag_id in ("tierwise_ingest_daily", "tierwise_pipeline"):
        _wait_dag(client, dag_id)
    client.patch("/dags/tierwise_ingest_daily", json={"is_paused": False}).raise_for_status()

    backfill = cli(
        "backfill", "create", "--dag-id", "tierwise_ingest_daily",
        "--from-date", SAMPLE_START.isoformat(), "--to-date", SAMPLE_END.isoformat(),
    )  # fmt: skip
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    days = (SAMPLE_END - SAMPLE_START).days + 1
    runs = _wait_runs_done(client, "tierwise_ingest_daily", days, 900, run_type="backfill")
    assert len(runs) == days
    assert {r["state"] for r in runs} == {"success"}, runs

    client.patch("/dags/tierwise_pipeline", json={"is_paused": False}).raise_for_status()
    triggered = client.post(
        "/dags/tierwise_pipeline/dagRuns",
        json={"logical_date": "2026-01-05T06:00:00Z", "conf": {"as_of_date": SAMPLE_END.isoformat()}},
    )
    assert triggered.status_code in (200, 201), triggered.text
    run = _wait_runs_done(client, "tierwise_pipeline", 1, 600, run_type="manual")[0]
    assert run["state"] == "success", (airflow["logs"] / "scheduler.log").read_text()[-3000:]

    backfilled = _marts(airflow["root"] / "warehouse" / "tierwise.duckdb")
    assert backfilled["customer_tiers"], "the marts are empty"
    assert backfilled == _full_run_marts(airflow["root"])
