"""DAG integrity: every DAG imports, has no cycles and follows the project's policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
KNOWN_TAGS = {"tierwise", "pipeline", "ingest", "transform", "quality", "publish", "review", "maintenance"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG found in dags/"


def test_one_dag_per_file_named_after_it(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).stem == dag_id
    assert len(dagbag.dags) == len(DAG_FILES)


def test_policy(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and set(dag.tags) <= KNOWN_TAGS, dag_id
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.start_date is not None and dag.start_date.tzinfo is not None, dag_id
        assert dag.catchup is False or dag.max_active_runs == 1, dag_id
        for task in dag.tasks:
            assert task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"


def test_every_task_retries_as_configured(tmp_path: Path) -> None:
    """Tasks take TIERWISE_TASK_RETRIES. The tests run with 0, which is Airflow's own default
    and would pass for a DAG without Tierwise's default args, so the DAGs are parsed with 3."""
    probe = textwrap.dedent(
        f"""
        import json
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(REPO / "dags")!r})
        assert not bag.import_errors, bag.import_errors
        tasks = [task for dag in bag.dags.values() for task in dag.tasks]
        print(json.dumps({{f"{{task.dag_id}}.{{task.task_id}}": task.retries for task in tasks}}))
        """
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "TIERWISE_TASK_RETRIES": "3"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    retries = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(retries) >= len(DAG_FILES)
    assert {task: count for task, count in retries.items() if count != 3} == {}


def test_writers_share_the_single_slot_pool(dagbag) -> None:
    from tierwise.orchestration import WRITER_POOL

    dag = dagbag.dags["tierwise_pipeline"]
    writers = [t for t in dag.tasks if t.task_id.startswith(("ingest_", "dbt_", "publish", "raw_", "marts_"))]
    assert writers
    assert {t.pool for t in writers} == {WRITER_POOL}


def test_no_cycles(dagbag) -> None:
    for dag in dagbag.dags.values():
        dag.check_cycle()  # raises AirflowDagCycleException on a cycle
        assert len(dag.topological_sort()) == len(dag.tasks)


def test_pipeline_shape(dagbag) -> None:
    dag = dagbag.dags["tierwise_pipeline"]
    publish = dag.get_task("publish")
    assert "marts_quality_gate" in publish.upstream_task_ids
    build = dag.get_task("dbt_build")
    assert "raw_quality_gate" in build.upstream_task_ids


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_import_is_fast_and_touches_no_database(dag_file: Path, tmp_path: Path) -> None:
    """Parse-time work is forbidden: importing a DAG file must not reach the metadata DB."""
    probe = textwrap.dedent(
        f"""
        import time, runpy, sys
        import airflow.sdk  # the SDK import itself is not the DAG's cost
        import sqlalchemy.engine
        def refuse(*args, **kwargs):
            raise SystemExit("DAG file opened a database connection at parse time")
        sqlalchemy.engine.Engine.connect = refuse
        start = time.perf_counter()
        runpy.run_path({str(dag_file)!r})
        print(time.perf_counter() - start)
        """
    )
    env = {"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) < 1.0


def test_airflow_does_not_load_the_package_as_plugins() -> None:
    """Airflow imports every .py file of the plugins folder as a top-level module unless ignored."""
    from airflow._shared.module_loading import find_path_from_directory

    scanned = [Path(p) for p in find_path_from_directory(str(REPO / "plugins"), ".airflowignore", "glob")]
    # Only the Airflow plugin itself (its links to the reports and docs), never the package's modules.
    assert [p.name for p in scanned if p.suffix == ".py"] == ["tierwise_plugin.py"], scanned[:5]
