"""``tierwise explain`` on a real warehouse: what it says equals the marts, read here with plain SQL.

The session's shared home of tests/workspaces.py (generated exports evaluated as of November and
December 2025, so customers have a history and tier changes) is copied, and December's changes
are notified to a local webhook. Each test picks a customer by SQL (a tiered one, an ineligible
one, one whose tier changed) and compares the ``--json`` output with the marts and ``ops.sync_state``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.fakes.webhook import FakeWebhook
from tests.support import leaks, personal_values, run_context
from tests.workspaces import DECEMBER, NOVEMBER, copy_home

from tierwise.cli import main
from tierwise.names import REASON_SETTINGS
from tierwise.publish import publish
from tierwise.publish.config import NotificationConfig, PublishConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CONFIG = PublishConfig(notifications=NotificationConfig(batch_size=20, retry_base_delay=0.01))


@dataclass
class Home:
    root: Path
    warehouse: Path


@pytest.fixture(scope="module")
def home(two_evaluations: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("explain")
    patch = copy_home(two_evaluations, root)
    with FakeWebhook() as webhook:
        patch.setenv(
            "AIRFLOW_CONN_TIERWISE_WEBHOOK", webhook.url.replace("http://", f"http://:{webhook.secret}@")
        )
        publish(["notifications"], run_context("notify", gate_override="explain test"), config=CONFIG)
        assert webhook.received, "the fixture must notify some changes"
    yield Home(root, root / "warehouse" / "tierwise.duckdb")
    patch.undo()


def sql(home: Home, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def explain_json(customer_id: str, *extra: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["explain", customer_id, "--json", *extra]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def first(home: Home, query: str) -> str:
    rows = sql(home, query)
    assert rows, f"the fixture has no customer for: {query}"
    return str(rows[0][0])


def test_a_tiered_customer_shows_the_ladder_row_abc_class_and_next_tier(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = first(
        home, "select customer_id from marts.customer_tiers where tier_code = 'silver' order by 1 limit 1"
    )
    got = explain_json(customer, capsys=capsys)
    (row,) = sql(
        home,
        "select t.as_of_date, t.tier_code, t.tier_rule, t.measure_value, t.measure_orders, l.min_value, "
        "l.min_orders, t.abc_class, t.abc_method, t.cumulative_share, t.next_tier_code, t.gap_to_next_tier, "
        "t.orders_gap_to_next_tier, n.min_value, n.min_orders "
        "from marts.customer_tiers t join staging.tier_ladder l on l.tier_code = t.tier_code "
        "left join staging.tier_ladder n on n.tier_code = t.next_tier_code where t.customer_id = ?",
        [customer],
    )
    assert got["as_of_date"] == str(DECEMBER) == str(row[0])
    tier = got["tier"]
    assert (tier["tier_code"], tier["rule"]) == (row[1], row[2])
    assert (tier["measure_value"], tier["measure_orders"]) == (float(row[3]), row[4])
    assert (tier["min_value"], tier["min_orders"]) == (float(row[5]), row[6])
    assert tier["measure_value"] >= tier["min_value"] and tier["measure_orders"] >= tier["min_orders"]
    abc = got["abc"]
    assert (abc["abc_class"], abc["method"], abc["cumulative_share"]) == (row[7], row[8], row[9])
    assert abc["cutoffs"] == {"var": "abc_share_cutoffs", "a": 0.80, "b": 0.95}
    assert got["eligibility"] == {
        "is_eligible": True,
        "reason": None,
        "setting": None,
        "tenure_months": got["eligibility"]["tenure_months"],
    }
    nxt = got["next_tier"]
    assert (nxt["tier_code"], nxt["value_gap"], nxt["orders_gap"]) == (row[10], float(row[11]), row[12])
    assert (nxt["min_value"], nxt["min_orders"]) == (float(row[13]), row[14])


def test_rfm_and_clv_come_from_customer_value(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    customer = first(
        home, "select customer_id from marts.customer_value where orders_count > 2 order by 1 limit 1"
    )
    value = explain_json(customer, capsys=capsys)["value"]
    (row,) = sql(
        home,
        "select rfm_segment, rfm_cell, r_score, f_score, m_score, recency_days, historic_clv, predicted_clv "
        "from marts.customer_value where customer_id = ?",
        [customer],
    )
    got = [value[name] for name in ("rfm_segment", "rfm_cell", "r_score", "f_score", "m_score")]
    assert got == list(row[:5])
    assert value["recency_days"] == row[5]
    assert (value["historic_clv"], value["predicted_clv"]) == (float(row[6]), float(row[7]))


def test_an_ineligible_customer_shows_the_reason_and_its_setting(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = first(
        home,
        "select customer_id from marts.customer_tiers where not is_eligible "
        "order by ineligibility_reason, customer_id limit 1",
    )
    got = explain_json(customer, capsys=capsys)
    query = "select ineligibility_reason from marts.customers where customer_id = ?"
    (reason,) = sql(home, query, [customer])
    assert got["eligibility"]["is_eligible"] is False
    assert got["eligibility"]["reason"] == reason[0]
    assert got["eligibility"]["setting"] == REASON_SETTINGS[reason[0]]
    assert got["tier"]["tier_code"] == "unrated"
    assert got["next_tier"] is None


def test_history_changes_and_notifications_equal_the_marts_and_the_sync_state(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = first(
        home,
        "select st.record_key from ops.sync_state st where st.destination = 'notifications.webhook' "
        "and st.last_sent_hash is not null order by 1 limit 1",
    ).split("|")[0]
    got = explain_json(customer, capsys=capsys)
    history = sql(
        home,
        "select as_of_date::varchar, tier_code, abc_class, tier_rule from marts.customer_tier_history "
        "where customer_id = ? order by as_of_date desc",
        [customer],
    )
    keys = ("as_of_date", "tier_code", "abc_class", "tier_rule")
    assert [tuple(row[k] for k in keys) for row in got["history"]] == history
    assert len(history) == 2
    changes = sql(
        home,
        "select change_key, as_of_date::varchar, from_tier_code, to_tier_code, change_type "
        "from marts.tier_changes where customer_id = ? order by as_of_date desc",
        [customer],
    )
    keys = ("change_key", "as_of_date", "from_tier_code", "to_tier_code", "change_type")
    assert [tuple(row[k] for k in keys) for row in got["changes"]] == changes
    sent = sql(
        home,
        "select destination, record_key, status from ops.sync_state "
        "where destination like 'notifications.%' and last_sent_hash is not null "
        "and split_part(record_key, '|', 1) = ? order by updated_at desc, destination",
        [customer],
    )
    assert [(row["channel"], row["change_key"], row["status"]) for row in got["notifications"]] == sent
    assert sent


def test_as_of_picks_that_evaluation_from_the_history(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    customer = first(
        home,
        "select customer_id from marts.tier_changes where as_of_date = '2025-12-31' "
        "and change_type in ('upgrade', 'downgrade') order by 1 limit 1",
    )
    got = explain_json(customer, "--as-of", "2025-11-15", capsys=capsys)
    (row,) = sql(
        home,
        "select tier_code, tier_rule, measure_value from marts.customer_tier_history "
        "where customer_id = ? and as_of_date = ?",
        [customer, NOVEMBER],
    )
    assert got["as_of_date"] == str(NOVEMBER)
    assert (got["tier"]["tier_code"], got["tier"]["rule"], got["tier"]["measure_value"]) == (
        row[0],
        row[1],
        float(row[2]),
    )
    assert [entry["as_of_date"] for entry in got["history"]] == [str(NOVEMBER)]
    assert all(change["as_of_date"] <= str(NOVEMBER) for change in got["changes"])


def test_an_unknown_customer_fails_with_a_hint(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    known = first(home, "select customer_id from marts.customer_tiers order by 1 limit 1")
    assert main(["explain", known + "X"]) == 1
    err = capsys.readouterr().err
    assert f"no customer '{known}X'" in err and "closest ids: " in err and known in err


def test_an_evaluation_the_customer_lacks_is_named(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    known = first(home, "select customer_id from marts.customer_tiers order by 1 limit 1")
    assert main(["explain", known, "--as-of", "2024-06-30"]) == 1
    assert "no evaluation in the month of 2024-06-30; evaluations: " in capsys.readouterr().err


def test_the_text_output_reads_and_holds_no_personal_data(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "select customer_id from marts.customer_tiers order by 1 limit 25"
    customers = [row[0] for row in sql(home, query)]
    outputs = {}
    for customer in customers:
        capsys.readouterr()
        assert main(["explain", customer]) == 0
        outputs[f"text {customer}"] = capsys.readouterr().out
        outputs[f"json {customer}"] = json.dumps(explain_json(customer, capsys=capsys))
    text = outputs[f"text {customers[0]}"]
    for heading in ("Tier ", "ABC class", "Eligible", "Next tier", "RFM", "CLV", "Tier history:"):
        assert heading in text
    assert leaks(personal_values(home.warehouse), outputs) == []
    assert not any("@" in output for output in outputs.values())
