from __future__ import annotations

from datetime import date

import duckdb
import pytest

from tierwise.exceptions import PublishError
from tierwise.publish.config import CrmConfig, NotificationConfig
from tierwise.publish.revisions import reconcile
from tierwise.publish.sources import (
    crm_source,
    customer_tiers_source,
    entry_tier_code,
    notification_source,
    resolve_as_of_date,
)

AS_OF = date(2024, 1, 31)


@pytest.fixture
def marts(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("create schema marts; create schema raw")
    con.execute(
        """
        create table marts.customer_tiers as select * from (values
            ('C1', date '2024-01-31', 10.0, 'unrated', 'Unrated', 'bronze', 'x@a.io'),
            ('C2', date '2024-01-31', 200.0, 'bronze', 'Bronze', 'silver', null),
            ('C3', date '2024-01-31', 900.0, 'gold', 'Gold', null, null)
        ) t(customer_id, as_of_date, measure_value, tier_code, tier_name, next_tier_code, phone)
        """
    )
    con.execute(
        """
        create table marts.tier_changes as select * from (values
            ('C1|2024-01-31', 'C1', date '2024-01-31', 'bronze', 'unrated', 'exit'),
            ('C2|2024-01-31', 'C2', date '2024-01-31', 'unrated', 'bronze', 'entry'),
            ('C3|2024-01-31', 'C3', date '2024-01-31', 'unrated', 'gold', 'entry'),
            ('C4|2024-01-31', 'C4', date '2024-01-31', 'silver', 'gold', 'upgrade'),
            ('C5|2024-01-31', 'C5', date '2024-01-31', 'gold', 'silver', 'downgrade'),
            ('C3|2023-12-31', 'C3', date '2023-12-31', 'silver', 'gold', 'upgrade')
        ) t(change_key, customer_id, as_of_date, from_tier_code, to_tier_code, change_type)
        """
    )
    return con


def keys(con: duckdb.DuckDBPyConnection, sql: str, params: object) -> list[str]:
    return sorted(row[0] for row in con.execute(f"select record_key from ({sql})", params).fetchall())


def test_as_of_date_must_be_the_runs_own(marts: duckdb.DuckDBPyConnection) -> None:
    assert resolve_as_of_date(marts, None) == AS_OF
    assert resolve_as_of_date(marts, AS_OF) == AS_OF
    with pytest.raises(PublishError, match="not of this run"):
        resolve_as_of_date(marts, date(2024, 2, 29))
    marts.execute("update marts.customer_tiers set as_of_date = date '2023-12-31' where customer_id = 'C3'")
    with pytest.raises(PublishError, match="exactly one evaluation"):
        resolve_as_of_date(marts, None)


def test_missing_mart_is_a_clear_error(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(PublishError, match="build the marts"):
        resolve_as_of_date(con, None)


def test_personal_columns_are_not_published_to_tables(marts: duckdb.DuckDBPyConnection) -> None:
    source = customer_tiers_source(marts, AS_OF)
    assert "phone" not in source.columns and "customer_id" in source.columns


def test_entry_tier_derived_or_configured(marts: duckdb.DuckDBPyConnection) -> None:
    assert entry_tier_code(marts, NotificationConfig()) == "bronze"
    assert entry_tier_code(marts, NotificationConfig(entry_tier_code="silver")) == "silver"


def notified(con: duckdb.DuckDBPyConnection, config: NotificationConfig) -> list[str]:
    events = reconcile(con, AS_OF, "r", dry_run=True)
    source = notification_source(con, AS_OF, config, events, "notifications.webhook")
    return keys(con, source.sql, source.params)


def test_notifications_skip_entry_level_moves_and_old_changes(marts: duckdb.DuckDBPyConnection) -> None:
    assert notified(marts, NotificationConfig()) == ["C3|2024-01-31", "C4|2024-01-31", "C5|2024-01-31"]
    assert notified(marts, NotificationConfig(change_types=("upgrade",))) == ["C4|2024-01-31"]
    assert len(notified(marts, NotificationConfig(skip_entry_level_moves=False))) == 5


def test_crm_email_from_latest_raw_contact(marts: duckdb.DuckDBPyConnection) -> None:
    marts.execute(
        """
        create table raw.contacts as select * from (values
            ('C1', 'old@a.io', timestamp '2024-01-01'), ('C1', 'new@a.io', timestamp '2024-01-05'),
            ('C2', 'c2@a.io', timestamp '2024-01-01')
        ) t(customer_id, email, updated_at)
        """
    )
    source = crm_source(marts, AS_OF, CrmConfig())
    sql = f"select record_key, _id_email from ({source.sql}) order by 1"
    rows = marts.execute(sql, source.params).fetchall()
    assert rows == [("C1", "new@a.io"), ("C2", "c2@a.io"), ("C3", None)]
    # The test mart has no abc_class column: that property is skipped, the others kept.
    assert "customer_tier" in source.columns and "customer_abc_class" not in source.columns


def test_crm_tolerates_missing_contacts(marts: duckdb.DuckDBPyConnection) -> None:
    source = crm_source(marts, AS_OF, CrmConfig())
    rows = marts.execute(f"select _id_email from ({source.sql})", source.params).fetchall()
    assert rows == [(None,)] * 3
