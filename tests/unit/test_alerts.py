"""Alerts reach a real HTTP endpoint or SMTP server; recoveries are kept in Airflow's own Variables.

The runs are Airflow's: a probe DAG with Tierwise's shared defaults and callbacks, in a bundle
of the test Airflow home's metadata database (SQLite). Its tasks run in Airflow's task runner
(in process, with its supervisor and the execution API, as ``airflow dags test`` runs them);
the scheduler's own state update turns a finished run into a DAG callback request, and a real
DAG processor subprocess executes it, asking the same execution API, as in a deployment.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pendulum
import pytest
from airflow.sdk import DAG
from tests.fakes.smtp import FakeSmtp

from tierwise import alerts
from tierwise.alerts import Alert, AlertEvent, TierwiseAlert
from tierwise.exceptions import ConfigError, TierwiseError

DAG_ID = "tierwise_alerts_probe"
BUNDLE = "tierwise-alerts-probe"
PROBE_DAG = f'''"""A Tierwise DAG (shared defaults and callbacks); its task fails when the run's conf asks."""

from airflow.sdk import DAG, Asset, task

from tierwise.orchestration import dag_defaults

with DAG("{DAG_ID}", schedule=[Asset("tierwise://alerts-probe")], **dag_defaults()):

    @task
    def step(dag_run=None) -> None:
        if dag_run.conf.get("fail"):
            raise ValueError("probe failed for jane@example.org")

    step()
'''


@dataclass
class Hook:
    """What the local webhook received, and the status it answers with."""

    url: str
    status: int = 200
    messages: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def subjects(self) -> list[str]:
        return [message["text"].split("\n")[0] for message in self.messages]


class _Receiver(BaseHTTPRequestHandler):
    hook: ClassVar[Hook]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.hook.messages.append(json.loads(body))
        self.hook.paths.append(self.path)
        self.hook.headers.append(dict(self.headers.items()))
        self.send_response(self.hook.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def webhook(tierwise_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    _Receiver.hook = Hook(f"http://127.0.0.1:{server.server_port}/hook")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, _Receiver.hook.url)
    yield _Receiver.hook
    server.shutdown()
    server.server_close()


@dataclass
class Probe:
    """The probe DAG as Airflow holds it: its bundle folder and the DAG parsed from it."""

    folder: Path
    dag: Any


@pytest.fixture(scope="module")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    """The test Airflow home's metadata database, with the probe DAG's bundle parsed into it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.db import initdb

    folder = tmp_path_factory.mktemp("bundle")
    (folder / f"{DAG_ID}.py").write_text(PROBE_DAG, encoding="utf-8")
    bundle = {
        "name": BUNDLE,
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder), "refresh_interval": 0},
    }
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    try:
        initdb()
        DagBundlesManager().sync_bundles_to_db()
        bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name=BUNDLE)
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, BUNDLE, None)
        yield Probe(folder, bag.get_dag(DAG_ID))
    finally:
        patch.undo()


@pytest.fixture
def probe(airflow_db: Probe) -> Probe:
    """Each test starts with no failure kept for the probe DAG."""
    from airflow.models import Variable

    Variable.delete(alerts.failure_variable(DAG_ID))
    return airflow_db


def _failure_kept() -> str | None:
    from airflow.models import Variable

    return Variable.get(alerts.failure_variable(DAG_ID), default_var=None)


def _asset_triggered_run(probe: Probe, *, fail: bool) -> tuple[str, Any]:
    """A run as the scheduler makes one of an asset event (no logical date); its id and DAG callback.

    Its tasks run in Airflow's task runner with its supervisor (task callbacks run there), then
    the scheduler's state update finishes the run and returns what the DAG processor gets.
    """
    from airflow.api_fastapi.execution_api.datamodels.taskinstance import TaskInstance as TIModel
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.sdk.api.datamodels._generated import TaskInstance
    from airflow.sdk.execution_time.supervisor import run_task_in_process
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    now = pendulum.now("UTC")
    with create_session() as session:
        scheduler_dag = DBDagBag().get_latest_version_of_dag(DAG_ID, session=session)
        run = scheduler_dag.create_dagrun(
            run_id=DagRun.generate_run_id(
                run_type=DagRunType.ASSET_TRIGGERED, logical_date=None, run_after=now
            ),
            logical_date=None,
            data_interval=None,
            run_after=now,
            run_type=DagRunType.ASSET_TRIGGERED,
            triggered_by=DagRunTriggeredByType.ASSET,
            conf={"fail": fail},
            state=DagRunState.RUNNING,
            session=session,
        )
        assert run.logical_date is None
        for ti in run.get_task_instances(session=session):
            ti.try_number += 1
            ti.state = TaskInstanceState.QUEUED
        session.commit()
        for ti in run.get_task_instances(session=session):
            what = TaskInstance.model_validate(TIModel.model_validate(ti, from_attributes=True).model_dump())
            run_task_in_process(ti=what, task=probe.dag.get_task(ti.task_id))
        session.expire_all()
        _, callback = run.update_state(session=session, execute_callbacks=False)
        assert run.state == (DagRunState.FAILED if fail else DagRunState.SUCCESS)
        return run.run_id, callback


def _dag_processor(probe: Probe, callback: Any, log_file: Path) -> None:
    """Execute a DAG callback request in a DAG processor subprocess, as its manager starts one."""
    import structlog
    from airflow.dag_processing.processor import DagFileProcessorProcess
    from airflow.sdk.api.client import Client
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    # The manager's own client: the execution API served in its process.
    client = Client(base_url=None, token="", dry_run=True, transport=in_process_api_server().transport)
    client.base_url = "http://in-process.invalid./"
    with log_file.open("a", encoding="utf-8") as handle:
        logger = structlog.wrap_logger(
            structlog.PrintLogger(handle),
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            processors=[structlog.processors.JSONRenderer()],
        )
        process = DagFileProcessorProcess.start(
            id=uuid.uuid4(),
            path=probe.folder / callback.filepath,
            bundle_path=probe.folder,
            bundle_name=BUNDLE,
            dag_file_rel_path=callback.filepath,
            callbacks=[callback],
            client=client,
            logger=logger,
            logger_filehandle=handle.buffer,
        )
        deadline = pendulum.now("UTC").add(seconds=60)
        while not process.is_ready and pendulum.now("UTC") < deadline:
            process._service_subprocess(0.1)  # the manager's loop, for this one process
    assert process.is_ready and process._exit_code == 0, log_file.read_text(errors="replace")


def _run(probe: Probe, tmp_path: Path, *, fail: bool) -> str:
    """An asset-triggered run of the probe DAG, its DAG callback (if any) run by the DAG processor."""
    run_id, callback = _asset_triggered_run(probe, fail=fail)
    if callback is not None:
        _dag_processor(probe, callback, tmp_path / "dag_processor.log")
    return run_id


def test_a_success_after_a_failed_asset_triggered_run_is_announced_once(
    webhook: Hook, probe: Probe, tmp_path: Path
) -> None:
    failed_run = _run(probe, tmp_path, fail=True)
    recovered_run = _run(probe, tmp_path, fail=False)
    _run(probe, tmp_path, fail=False)
    assert webhook.subjects() == [f"*Tierwise: {DAG_ID}.step failed*", f"*Tierwise: {DAG_ID} recovered*"]
    failure, recovery = (message["text"] for message in webhook.messages)
    assert failure.startswith(f"*Tierwise: {DAG_ID}.step failed*\nrun {failed_run}: probe failed for ")
    assert "jane@example.org" not in failure
    assert recovery.endswith(f"\nrun {recovered_run} succeeded after run {failed_run} failed")
    assert _failure_kept() is None


def test_the_failed_run_is_kept_in_an_airflow_variable(webhook: Hook, probe: Probe, tmp_path: Path) -> None:
    failed_run = _run(probe, tmp_path, fail=True)
    assert failed_run.startswith("asset_triggered__")
    assert _failure_kept() == failed_run


def test_the_first_run_is_no_recovery(webhook: Hook, probe: Probe, tmp_path: Path) -> None:
    _run(probe, tmp_path, fail=False)
    assert "Executing on_success dag callback" in (tmp_path / "dag_processor.log").read_text()
    assert webhook.messages == []


def test_a_success_after_a_success_is_no_recovery(webhook: Hook, probe: Probe, tmp_path: Path) -> None:
    _run(probe, tmp_path, fail=False)
    _run(probe, tmp_path, fail=False)
    assert webhook.messages == []
    assert (tmp_path / "dag_processor.log").read_text().count("Executing on_success dag callback") == 2


def test_airflow_dags_test_announces_a_recovery_from_its_own_process(webhook: Hook, probe: Probe) -> None:
    """`airflow dags test` runs DAG callbacks without a supervisor; its runs here have no logical date."""
    failed = probe.dag.test(logical_date=None, run_conf={"fail": True})
    assert _failure_kept() == failed.run_id
    succeeded = probe.dag.test(logical_date=None)
    probe.dag.test(logical_date=None)
    assert (failed.logical_date, succeeded.logical_date) == (None, None)
    assert webhook.subjects() == [f"*Tierwise: {DAG_ID}.step failed*", f"*Tierwise: {DAG_ID} recovered*"]
    assert webhook.messages[1]["text"].endswith(
        f"run {succeeded.run_id} succeeded after run {failed.run_id} failed"
    )
    assert _failure_kept() is None


def test_dag_callbacks_run_with_the_serialized_dag_of_airflow_dags_test(webhook: Hook, probe: Probe) -> None:
    """`airflow dags test` hands DAG-level callbacks a SerializedDAG (no template environment)."""
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(probe.dag))
    TierwiseAlert(AlertEvent.FAILURE)({"dag": serialized, "run_id": "run_1", "exception": "boom"})
    TierwiseAlert(AlertEvent.RECOVERY)({"dag": serialized, "run_id": "run_2"})  # BaseNotifier.__call__
    assert webhook.subjects() == [f"*Tierwise: {DAG_ID}.? failed*", f"*Tierwise: {DAG_ID} recovered*"]


def test_a_callback_context_without_a_task_instance_still_recovers(webhook: Hook, probe: Probe) -> None:
    """The DAG processor's minimal context, when the run has no task left to describe it."""
    dag = DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
    TierwiseAlert(AlertEvent.FAILURE).notify({"dag": dag, "run_id": "run_1"})
    TierwiseAlert(AlertEvent.RECOVERY).notify({"dag": dag, "run_id": "run_2"})
    assert (
        webhook.messages[1]["text"]
        == "*Tierwise: tierwise_alerts_probe recovered*\nrun run_2 succeeded after run run_1 failed"
    )


def test_a_failure_alert_that_is_refused_still_pairs_with_a_recovery(webhook: Hook, probe: Probe) -> None:
    dag = DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
    webhook.status = 500
    with pytest.raises(TierwiseError, match="HTTP 500"):
        TierwiseAlert(AlertEvent.FAILURE).notify({"dag": dag, "run_id": "run_1"})
    assert _failure_kept() == "run_1"


def test_a_recovery_alert_that_is_refused_is_tried_again(webhook: Hook, probe: Probe) -> None:
    dag = DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
    TierwiseAlert(AlertEvent.FAILURE).notify({"dag": dag, "run_id": "run_1"})
    webhook.status = 500
    with pytest.raises(TierwiseError, match="HTTP 500"):
        TierwiseAlert(AlertEvent.RECOVERY).notify({"dag": dag, "run_id": "run_2"})
    webhook.status = 200
    TierwiseAlert(AlertEvent.RECOVERY).notify({"dag": dag, "run_id": "run_3"})
    assert webhook.subjects()[-1] == f"*Tierwise: {DAG_ID} recovered*"
    assert _failure_kept() is None


def test_without_connection_alerts_are_logged(tierwise_env, monkeypatch, caplog) -> None:
    monkeypatch.delenv(alerts.ALERTS_CONN_ENV, raising=False)
    assert alerts.send_alert(Alert("subject", "call +44 20 7946 0958")) == "log"
    assert "subject" in caplog.text and "7946" not in caplog.text


def test_unknown_scheme_is_an_error(tierwise_env, monkeypatch) -> None:
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, "ftp://example.org")
    with pytest.raises(ConfigError, match="unsupported scheme 'ftp'"):
        alerts.send_alert(Alert("s", "t"))


@pytest.mark.parametrize("form", ["uri", "json"])
def test_a_slack_webhook_url_is_posted_to_as_written(webhook: Hook, monkeypatch, form: str) -> None:
    """Slack's incoming-webhook URLs carry their secret in a path of several segments."""
    url = webhook.url.replace("/hook", "/services/T000/B000/XXXX")
    value = url if form == "uri" else json.dumps({"conn_type": "http", "host": url})
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, value)
    assert alerts.send_alert(Alert("subject", "text")) == "webhook"
    assert webhook.paths == ["/services/T000/B000/XXXX"]
    assert "Authorization" not in webhook.headers[0]


def test_the_password_goes_as_a_bearer_token(webhook: Hook, monkeypatch) -> None:
    connection = {"conn_type": "http", "host": webhook.url, "password": "alert-token-1"}
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, json.dumps(connection))
    alerts.send_alert(Alert("subject", "text"))
    assert webhook.headers[0]["Authorization"] == "Bearer alert-token-1"


def test_a_refused_webhook_is_an_error_that_does_not_show_the_url(webhook: Hook, monkeypatch) -> None:
    url = webhook.url.replace("/hook", "/services/T000/B000/SECRETPATH")
    monkeypatch.setenv(alerts.ALERTS_CONN_ENV, url)
    webhook.status = 500
    with pytest.raises(TierwiseError, match="HTTP 500") as raised:
        alerts.send_alert(Alert("subject", "text"))
    assert "SECRETPATH" not in str(raised.value) and raised.value.__cause__ is None


def test_the_deadline_alert_names_the_run(webhook: Hook) -> None:
    dag_run = {"dag_id": "tierwise_monthly_review", "dag_run_id": "scheduled__2026-01-05", "state": "running"}
    deadline = {"id": "1", "deadline_time": "2026-01-05T12:00:00+00:00"}
    alerts.deadline_missed(context={"dag_run": dag_run, "deadline": deadline})
    assert webhook.messages[0]["text"] == (
        "*Tierwise: monthly tier review missed its deadline*\n"
        "tierwise_monthly_review run scheduled__2026-01-05 (state running) had not finished by "
        "2026-01-05T12:00:00+00:00"
    )


def _smtp_uri(smtp: FakeSmtp, to: str) -> str:
    return (
        f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true&from_email=alerts@test.invalid{to}"
    )


def test_an_alert_by_mail_reads_the_connection_as_notifications_do(tierwise_env, monkeypatch) -> None:
    with FakeSmtp() as smtp:
        monkeypatch.setenv(
            alerts.ALERTS_CONN_ENV, _smtp_uri(smtp, "&to=ops@test.invalid,oncall@test.invalid")
        )
        alert = Alert("tierwise_pipeline failed", "ingest_orders: IngestError for jane@example.org")
        assert alerts.send_alert(alert) == "smtp"
    (message,) = smtp.messages
    assert (message["Subject"], message["From"], message["To"]) == (
        "tierwise_pipeline failed",
        "alerts@test.invalid",
        "ops@test.invalid, oncall@test.invalid",
    )
    assert smtp.envelopes[0][1] == ["ops@test.invalid", "oncall@test.invalid"]
    assert "jane@example.org" not in message.get_content()


def test_an_smtp_connection_without_recipients_is_an_error(tierwise_env, monkeypatch) -> None:
    with FakeSmtp() as smtp:
        monkeypatch.setenv(alerts.ALERTS_CONN_ENV, _smtp_uri(smtp, ""))
        with pytest.raises(ConfigError, match="recipients in extra 'to'"):
            alerts.send_alert(Alert("subject", "text"))
    assert smtp.messages == []


def test_a_refused_mail_is_an_error_that_is_not_chained(tierwise_env, monkeypatch) -> None:
    """smtplib's errors can quote the recipients' addresses: the alert's error is masked and alone."""
    with FakeSmtp(faults=deque(["451"])) as smtp:
        monkeypatch.setenv(alerts.ALERTS_CONN_ENV, _smtp_uri(smtp, "&to=ops@test.invalid"))
        with pytest.raises(TierwiseError, match="e-mail not sent: SMTPDataError") as raised:
            alerts.send_alert(Alert("subject", "text"))
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
