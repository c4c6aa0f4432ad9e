"""A published evaluation rebuilt for real: every destination follows the mart (issue 16, defect 6).

The session's shared home of tests/workspaces.py is copied: generated exports run through
``tierwise run`` as of November and December 2025 (dbt builds, the gates pass, the default
destinations get December). December is published to files, the operational database
(PostgreSQL, and the local SQLite file) and notifications (webhook and e-mail). Then the
tier ladder changes (silver and gold ask for more) and December is rebuilt: some of its
tier changes now read differently, some are gone. After the next publish every
destination must equal the mart again: changed events revised, vanished ones retracted,
one correction or retraction per revision notified; a further publish sends nothing.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from tests.fakes.smtp import FakeSmtp
from tests.fakes.support import scratch_database
from tests.fakes.webhook import FakeWebhook
from tests.support import run_context
from tests.workspaces import DECEMBER, copy_home

from tierwise.publish import PublishReport, publish
from tierwise.publish.config import DatabaseConfig, NotificationConfig, PublishConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]

SCHEMA = "ops_copy"
EVENT_COLUMNS = "change_key, customer_id, as_of_date, previous_as_of_date, " + (
    "from_tier_code, to_tier_code, change_type, reason"
)
TIER_COLUMNS = "customer_id, as_of_date, measure_value, abc_class, tier_code, tier_rank, is_eligible"
CONFIG = PublishConfig(
    database=DatabaseConfig(schema=SCHEMA),
    notifications=NotificationConfig(batch_size=10, entry_tier_code="bronze", retry_base_delay=0.01),
)
# Silver from 500 to 800, gold from 2,000 to 2,600 (README: "Changing the tier rules").
RAISED_LADDER = """tier_code,tier_name,tier_rank,min_value,min_orders
platinum,Platinum,4,5000.00,4
gold,Gold,3,2600.00,3
silver,Silver,2,800.00,2
bronze,Bronze,1,100.00,1
unrated,Unrated,0,0.00,0
"""


@dataclass
class Home:
    root: Path
    warehouse: Path
    database: str
    webhook: FakeWebhook
    smtp: FakeSmtp
    patch: pytest.MonkeyPatch


def _stages(run_id: str, as_of: date) -> None:
    from tierwise.pipeline import RunContext, build, validate

    context = RunContext.create(run_id, as_of_date=as_of)
    build(context)
    validate(context, "marts")


@pytest.fixture(scope="module")
def home(two_evaluations: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("reevaluation")
    patch = copy_home(two_evaluations, root)
    with scratch_database() as database, FakeWebhook() as webhook, FakeSmtp() as smtp:
        patch.setenv(
            "AIRFLOW_CONN_TIERWISE_WEBHOOK", webhook.url.replace("http://", f"http://:{webhook.secret}@")
        )
        patch.setenv(
            "AIRFLOW_CONN_TIERWISE_SMTP",
            f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true&to=account-managers@test.invalid",
        )
        yield Home(root, root / "warehouse" / "tierwise.duckdb", database, webhook, smtp, patch)
    patch.undo()


def publish_everywhere(home: Home, run_id: str) -> tuple[PublishReport, PublishReport]:
    """PostgreSQL, files and notifications; then the local SQLite default (no connection)."""
    home.patch.setenv("AIRFLOW_CONN_TIERWISE_POSTGRES", home.database)
    main = publish(
        ["files", "database", "notifications"], run_context(run_id, as_of_date=DECEMBER), config=CONFIG
    )
    home.patch.delenv("AIRFLOW_CONN_TIERWISE_POSTGRES")
    local = publish(["database"], run_context(f"{run_id}-sqlite", as_of_date=DECEMBER), config=CONFIG)
    return main, local


def mart(home: Home, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def postgres(home: Home, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(home.database) as conn:
        return conn.execute(sql).fetchall()


def sqlite(home: Home, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home.root / "publish" / "operational.sqlite") as conn:
        return conn.execute(sql).fetchall()


def mart_events(home: Home) -> list[tuple[Any, ...]]:
    rows = mart(home, f"select {EVENT_COLUMNS} from marts.tier_changes where as_of_date <= '{DECEMBER}'")
    return sorted(tuple(str(value) if value is not None else None for value in row) for row in rows)


def outbox(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(str(value) if value is not None else None for value in row) for row in rows)


def assert_destinations_equal_the_mart(home: Home) -> None:
    current = f"select {EVENT_COLUMNS} from tier_change_events where not retracted"
    assert outbox(postgres(home, current.replace("from ", f"from {SCHEMA}."))) == mart_events(home)
    assert outbox(sqlite(home, current)) == mart_events(home)
    tiers = mart(home, f"select {TIER_COLUMNS} from marts.customer_tiers order by customer_id")
    order = 'order by customer_id collate "C"'
    assert postgres(home, f"select {TIER_COLUMNS} from {SCHEMA}.customer_tiers {order}") == tiers
    files = home.root / "publish" / "files"
    parquet = files / f"customer_tiers_{DECEMBER}.parquet"
    from_file = mart(home, f"select {TIER_COLUMNS} from '{parquet}' order by customer_id")
    assert from_file == tiers
    assert (files / "customer_tiers_latest.csv").read_bytes() == (
        files / f"customer_tiers_{DECEMBER}.csv"
    ).read_bytes()


def notifiable(home: Home) -> dict[str, str]:
    """The December changes worth a message (moves between unrated and bronze are not): ref per key."""
    rows = mart(
        home,
        f"""
        select change_key, revision from ops.tier_change_revisions
        where as_of_date = '{DECEMBER}' and not retracted
            and not (coalesce(from_tier_code, 'unrated') = 'unrated' and to_tier_code = 'bronze')
            and not (from_tier_code = 'bronze' and to_tier_code = 'unrated')
        """,
    )
    return {key: key if revision == 1 else f"{key}#{revision}" for key, revision in rows}


def refs(home: Home) -> tuple[list[str], list[str]]:
    """The change references each channel delivered, in order (webhook, then e-mail)."""
    webhook = home.webhook.change_keys()
    email = [
        line.rsplit("[", 1)[1].rstrip("]")
        for message in home.smtp.messages
        for line in message.get_content().splitlines()
        if line.startswith("- ")
    ]
    return webhook, email


def test_a_rebuilt_evaluation_reaches_every_destination_once(home: Home) -> None:
    publish_everywhere(home, "first")
    assert_destinations_equal_the_mart(home)
    first_notified = notifiable(home)
    before = mart(home, "select * from marts.tier_changes")
    assert len(first_notified) >= 5

    ladder = home.root / "dbt_project" / "seeds" / "tier_ladder.csv"
    ladder.write_text(RAISED_LADDER, encoding="utf-8")
    _stages("rebuild", DECEMBER)
    after = {row[0]: row for row in mart(home, "select * from marts.tier_changes")}
    changed = {row[0] for row in before if row[0] in after and after[row[0]] != row}
    vanished = {row[0] for row in before if row[0] not in after}
    assert changed and vanished, "the raised ladder must change and remove published events"

    main, local = publish_everywhere(home, "after-rebuild")
    assert_destinations_equal_the_mart(home)
    for table in (
        postgres(home, f"select change_key, revision, retracted from {SCHEMA}.tier_change_events"),
        sqlite(home, "select change_key, revision, retracted from tier_change_events"),
    ):
        revised = {key: (revision, bool(retracted)) for key, revision, retracted in table if revision != 1}
        assert revised == {**{key: (2, False) for key in changed}, **{key: (2, True) for key in vanished}}

    assert main.streams[2].stream.startswith("database.tier_change_events")
    assert main.streams[2].changed == local.streams[1].changed == len(changed | vanished)

    # Notifications: a correction or retraction of each revised change that had gone out,
    # a first message for a change that is worth one only now; each revision once.
    corrections = {f"{key}#2" for key in first_notified if key in changed | vanished}
    assert corrections, "the raised ladder must revise a change that was notified"
    newly = {ref for key, ref in notifiable(home).items() if key not in first_notified}
    for delivered in refs(home):
        assert Counter(delivered) == Counter(set(first_notified.values()) | corrections | newly)

    # Nothing changed since: nothing is sent or written anywhere.
    files = sorted((home.root / "publish" / "files").iterdir())
    stamps = [(path.read_bytes(), path.stat().st_mtime_ns) for path in files]
    sent_before = (len(home.webhook.received), len(home.smtp.messages))
    again = publish_everywhere(home, "once-more")
    assert [stream.sent for report in again for stream in report.streams] == [0] * 7
    assert "0 sent/0 changed" in again[0].headline()
    assert [(path.read_bytes(), path.stat().st_mtime_ns) for path in files] == stamps
    assert (len(home.webhook.received), len(home.smtp.messages)) == sent_before
