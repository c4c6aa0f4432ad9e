"""Tier-change notifications over a real webhook (HMAC-checked) and real SMTP.

What README.md promises: each change (and each revision of one) once; after a crash
between a send and its record, that one message again, unchanged, so that a receiver
honouring Idempotency-Key shows it once and one ignoring it (Slack) shows it twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.smtp import FakeSmtp
from tests.fakes.warehouse import build_marts, execute
from tests.fakes.webhook import FakeWebhook
from tests.support import isolate_tierwise, run_context

from tierwise.publish import publish
from tierwise.publish.config import NotificationConfig, PublishConfig
from tierwise.publish.errors import PublishFailedError
from tierwise.publish.webhook import WebhookNotifier

FAST = NotificationConfig(batch_size=5, timeout_seconds=0.5, retry_base_delay=0.01, retry_max_delay=0.05)


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook(timeout_delay=1.0) as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as fake:
        yield fake


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, webhook: FakeWebhook, smtp: FakeSmtp) -> Path:
    isolate_tierwise(tmp_path, monkeypatch, home=True)
    hook = webhook.url.replace("http://", f"http://:{webhook.secret}@")
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_WEBHOOK", hook)
    monkeypatch.setenv(
        "AIRFLOW_CONN_TIERWISE_SMTP",
        f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true&from_email=tierwise@test.invalid"
        "&to=account-managers@test.invalid",
    )
    return build_marts(tmp_path / "warehouse.duckdb", customers=250, every=3)


def run(warehouse: Path, run_id: str = "run-1", notify: NotificationConfig = FAST, **options: Any) -> Any:
    config = PublishConfig(notifications=notify)
    return publish(["notifications"], run_context(run_id, warehouse=warehouse), config=config, **options)


def expected_keys(
    warehouse: Path, types: tuple[str, ...] = ("upgrade", "downgrade", "entry", "exit")
) -> set[str]:
    """This evaluation's changes, minus moves between unrated and the entry tier (bronze)."""
    listed = ", ".join(f"'{kind}'" for kind in types)
    rows = execute(
        warehouse,
        f"""
        select change_key from marts.tier_changes
        where as_of_date = date '2024-01-31' and change_type in ({listed})
            and not (from_tier_code = 'unrated' and to_tier_code = 'bronze')
            and not (from_tier_code = 'bronze' and to_tier_code = 'unrated')
        """,
    )
    return {row[0] for row in rows}


def email_keys(smtp: FakeSmtp) -> list[str]:
    keys = []
    for message in smtp.messages:
        body = message.get_content()
        keys += [line.rsplit("[", 1)[1].rstrip("]") for line in body.splitlines() if line.startswith("- ")]
    return keys


def accepted_webhook_keys(webhook: FakeWebhook) -> list[str]:
    """Change keys per distinct message: a resend carries the same Idempotency-Key and is dropped."""
    seen: dict[str, list[str]] = {}
    for message in webhook.received:
        seen.setdefault(message.headers["Idempotency-Key"], message.change_keys())
    return [key for keys in seen.values() for key in keys]


def assert_exactly_once(keys: list[str], expected: set[str]) -> None:
    counts = Counter(keys)
    assert set(counts) == expected
    assert max(counts.values()) == 1


def test_each_change_is_notified_once_on_both_channels(
    warehouse: Path, webhook: FakeWebhook, smtp: FakeSmtp
) -> None:
    expected = expected_keys(warehouse)
    assert len(expected) > 10
    report = run(warehouse)
    assert [stream.sent for stream in report.streams] == [len(expected), len(expected)]
    assert_exactly_once(webhook.change_keys(), expected)
    assert_exactly_once(email_keys(smtp), expected)
    assert webhook.bad_signatures == 0
    assert smtp.envelopes[0] == ("tierwise@test.invalid", ["account-managers@test.invalid"])
    assert all(len(message.change_keys()) <= 5 for message in webhook.received)

    again = run(warehouse, "run-2")
    assert [stream.sent for stream in again.streams] == [0, 0]
    rerun = run(warehouse, "run-3", full_resync=True)  # never re-notifies people
    assert [stream.sent for stream in rerun.streams] == [0, 0]
    assert_exactly_once(webhook.change_keys(), expected)
    assert_exactly_once(email_keys(smtp), expected)


def test_faults_are_retried_without_double_notifications(
    warehouse: Path, webhook: FakeWebhook, smtp: FakeSmtp
) -> None:
    webhook.faults.extend(["ok", "500", "ok", "timeout", "ok", "500"])
    smtp.faults.extend(["ok", "451", "ok", "drop", "ok"])
    run(warehouse)
    expected = expected_keys(warehouse)
    assert_exactly_once(email_keys(smtp), expected)
    # The "timeout" message arrived although its answer did not: the resend has the same key.
    assert len(webhook.received) > len({m.headers["Idempotency-Key"] for m in webhook.received})
    assert_exactly_once(accepted_webhook_keys(webhook), expected)


def test_killed_between_batches_then_rerun(
    warehouse: Path, webhook: FakeWebhook, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = WebhookNotifier.send
    calls: list[int] = []

    def send_then_die(self: WebhookNotifier, batch: Any) -> Any:
        if len(calls) == 2:
            raise KeyboardInterrupt("worker killed")
        calls.append(1)
        return original(self, batch)

    monkeypatch.setattr(WebhookNotifier, "send", send_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(warehouse)
    assert len(webhook.received) == 2 and not smtp.messages  # the email stream never started
    monkeypatch.setattr(WebhookNotifier, "send", original)
    run(warehouse)
    expected = expected_keys(warehouse)
    assert_exactly_once(webhook.change_keys(), expected)
    assert_exactly_once(email_keys(smtp), expected)


def test_a_wrong_secret_is_refused_and_nothing_counts_as_sent(
    warehouse: Path, webhook: FakeWebhook, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhook.secret = "rotated-on-the-receiver"
    with pytest.raises(PublishFailedError, match="401"):
        run(warehouse)
    assert webhook.bad_signatures == 1 and not webhook.received
    assert len(smtp.messages) > 0  # the other channel is independent
    webhook.secret = "webhook-secret"
    run(warehouse, "run-2")
    assert_exactly_once(webhook.change_keys(), expected_keys(warehouse))
    assert_exactly_once(email_keys(smtp), expected_keys(warehouse))


def test_change_types_are_configurable(warehouse: Path, webhook: FakeWebhook) -> None:
    run(warehouse, notify=replace(FAST, change_types=("upgrade",)))
    assert_exactly_once(webhook.change_keys(), expected_keys(warehouse, ("upgrade",)))


def test_messages_hold_no_contact_details(warehouse: Path, webhook: FakeWebhook, smtp: FakeSmtp) -> None:
    run(warehouse)
    payloads = [str(message.body) for message in webhook.received] + [m.as_string() for m in smtp.messages]
    assert not any("example.com" in payload.lower() for payload in payloads)


def test_a_misconfigured_channel_fails_alone(
    warehouse: Path, webhook: FakeWebhook, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TIERWISE_SMTP", f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true")
    with pytest.raises(PublishFailedError, match="no recipients") as failure:
        run(warehouse)
    statuses = {stream.stream: stream.status for stream in failure.value.report.streams}
    assert statuses == {"notifications.webhook": "ok", "notifications.email": "failed"}
    assert_exactly_once(webhook.change_keys(), expected_keys(warehouse))


def shown_refs(webhook: FakeWebhook) -> list[str]:
    return [ref for message in webhook.shown for ref in message.change_keys()]


@pytest.mark.parametrize("honours_key", [True, False], ids=["idempotent-receiver", "slack-like-receiver"])
def test_a_kill_9_between_a_send_and_its_record_resends_that_message_unchanged(
    warehouse: Path, webhook: FakeWebhook, honours_key: bool
) -> None:
    webhook.honours_idempotency_key = honours_key
    config = warehouse.parent / "publish.yml"
    config.write_text("notifications: {batch_size: 5, timeout_seconds: 5}\n", encoding="utf-8")
    code = "from tierwise.context import RunContext; from tierwise.publish import publish; "
    code += "publish(['notifications'], RunContext.create('run-1'))"
    env = {**os.environ, "TIERWISE_PUBLISH_CONFIG": str(config), "TIERWISE_WAREHOUSE": str(warehouse)}
    with subprocess.Popen([sys.executable, "-c", code, str(warehouse)], env=env) as publisher:

        def kill_on_the_second(message: Any) -> None:
            if len(webhook.received) == 2:  # accepted; the publisher waits for the answer
                os.kill(publisher.pid, signal.SIGKILL)
                publisher.wait()

        webhook.on_message = kill_on_the_second
        assert publisher.wait(timeout=120) == -signal.SIGKILL
    webhook.on_message = None
    in_doubt = webhook.received[1]
    # Late data before the re-run: a change that sorts first, so batches planned anew
    # would be cut elsewhere and carry other keys.
    execute(
        warehouse,
        "insert into marts.tier_changes values ('C0000000|2024-01-31', 'C0000000', date '2024-01-31', "
        "date '2023-12-31', 'silver', 'gold', 'upgrade', 'late order')",
    )
    run(warehouse, "run-2")
    resent = webhook.received[2]
    assert resent.body == in_doubt.body
    assert resent.headers["Idempotency-Key"] == in_doubt.headers["Idempotency-Key"]
    expected = expected_keys(warehouse)
    assert "C0000000|2024-01-31" in expected
    if honours_key:
        assert_exactly_once(shown_refs(webhook), expected)
    else:  # at least once: exactly that one message twice, everything else once
        counts = Counter(shown_refs(webhook))
        assert set(counts) == expected
        assert {ref for ref, count in counts.items() if count == 2} == set(in_doubt.change_keys())
        assert max(counts.values()) == 2
    assert not execute(warehouse, "select * from ops.sync_inflight")


def test_a_revised_change_is_corrected_and_a_vanished_one_retracted_once(
    warehouse: Path, webhook: FakeWebhook, smtp: FakeSmtp
) -> None:
    run(warehouse)
    notified = sorted(expected_keys(warehouse, ("upgrade",)))
    corrected, retracted = notified[0], notified[1]
    execute(
        warehouse,
        f"update marts.tier_changes set to_tier_code = 'platinum', reason = 'late order' "
        f"where change_key = '{corrected}'",
    )
    execute(warehouse, f"delete from marts.tier_changes where change_key = '{retracted}'")
    before = len(webhook.received), len(smtp.messages)
    report = run(warehouse, "run-2")
    assert [(stream.changed, stream.sent) for stream in report.streams] == [(2, 2), (2, 2)]
    lines = [
        block["text"]["text"]
        for message in webhook.received[before[0] :]
        for block in message.body["blocks"]
        if block["type"] == "section"
    ]
    customer = corrected.split("|")[0]
    assert sorted(lines)[0].startswith(f"Corrected (revision 2): {customer} ")
    assert "-> Platinum (platinum) (upgrade): late order" in sorted(lines)[0]
    assert sorted(lines)[1].startswith(f"Retracted: {retracted.split('|')[0]} ")
    assert "1 correction, 1 retraction" in webhook.received[-1].body["text"]
    assert email_keys(smtp)[len(email_keys(smtp)) - 2 :] == [f"{corrected}#2", f"{retracted}#2"]
    assert len(smtp.messages) == before[1] + 1
    # Each revision once, on both channels; a re-run sends nothing.
    assert [stream.sent for stream in run(warehouse, "run-3").streams] == [0, 0]
    revisions = expected_keys(warehouse) | {retracted, f"{corrected}#2", f"{retracted}#2"}
    assert_exactly_once(webhook.change_keys(), revisions)
    assert_exactly_once(email_keys(smtp), revisions)


def test_corrections_can_be_switched_off(warehouse: Path, webhook: FakeWebhook) -> None:
    quiet = replace(FAST, corrections=False)
    run(warehouse, notify=quiet)
    changed = sorted(expected_keys(warehouse))[0]
    execute(warehouse, f"update marts.tier_changes set reason = 'late order' where change_key = '{changed}'")
    count = len(webhook.received)
    assert run(warehouse, "run-2", notify=quiet).streams[0].sent == 0
    assert len(webhook.received) == count
    # Switched on later, the revision the channel has not seen goes out.
    assert run(warehouse, "run-3").streams[0].sent == 1
    assert webhook.received[-1].change_keys() == [f"{changed}#2"]
