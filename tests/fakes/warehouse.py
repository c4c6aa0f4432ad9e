"""Synthetic marts in a temporary DuckDB file, shaped like docs/contracts.md says."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from tierwise.quality.report import PASSED, ExpectationResult
from tierwise.quality.store import write_results

TIERS = ("unrated", "bronze", "silver", "gold", "platinum")

_TIERS_SQL = """
create or replace table marts.customer_tiers as
with base as (
    select i, 'C' || lpad(i::varchar, 7, '0') as customer_id, (i * 7919) % 5 as tier_index
    from range(1, $n + 1) as t(i)
)
select
    customer_id,
    $as_of::date as as_of_date,
    ((i * 7919) % 100000 / 10.0)::decimal(18, 2) as measure_value,
    ((i % 97) / 10000.0)::double as revenue_share,
    ((i % 89) / 100.0)::double as cumulative_share,
    ['C', 'C', 'B', 'B', 'A'][tier_index + 1] as abc_class,
    ['unrated', 'bronze', 'silver', 'gold', 'platinum'][tier_index + 1] as tier_code,
    ['Unrated', 'Bronze', 'Silver', 'Gold', 'Platinum'][tier_index + 1] as tier_name,
    tier_index::integer as tier_rank,
    tier_index > 0 as is_eligible,
    case when tier_index = 0 then 'tenure below 6 months' end as ineligibility_reason,
    'value_ladder' as tier_rule,
    ['bronze', 'silver', 'gold', 'platinum', null][tier_index + 1] as next_tier_code,
    case when tier_index < 4 then (1000 - (i % 1000))::decimal(18, 2) end as gap_to_next_tier
from base
"""

# Changes of this evaluation: the "previous" tier is derived from another index so that
# every kind of move occurs, including unrated <-> bronze (the entry tier) ones.
_CHANGES_SQL = """
create or replace table marts.tier_changes as
with current_tiers as (
    select customer_id, as_of_date, tier_code, tier_rank,
        ((tier_rank + 1 + (row_number() over (order by customer_id)) // 3 % 4) % 5)::integer as previous_rank
    from marts.customer_tiers
),
moves as (
    select customer_id, as_of_date, tier_code as to_tier_code, tier_rank,
        ['unrated', 'bronze', 'silver', 'gold', 'platinum'][previous_rank + 1] as from_tier_code,
        previous_rank
    from current_tiers
    where hash(customer_id) % $every = 0
),
history as (
    select customer_id, ($as_of::date - interval 1 month)::date as as_of_date, 'silver' as to_tier_code,
        2 as tier_rank, 'bronze' as from_tier_code, 1 as previous_rank
    from current_tiers where hash(customer_id) % ($every * 3) = 1
)
select customer_id || '|' || as_of_date as change_key, customer_id, as_of_date,
    (as_of_date - interval 1 month)::date as previous_as_of_date, from_tier_code, to_tier_code,
    case
        when from_tier_code = 'unrated' then 'entry'
        when to_tier_code = 'unrated' then 'exit'
        when tier_rank > previous_rank then 'upgrade'
        else 'downgrade'
    end as change_type,
    'monthly review' as reason
from (select * from moves union all select * from history)
"""

_CONTACTS_SQL = """
create or replace table raw.contacts as
select customer_id, 'Customer ' || i as customer_name,
    case when version = 2 then
        case
            when i % 13 = 0 then null
            when i % 17 = 0 then 'not-an-email'
            else '  Customer' || i || '@Example.COM '
        end
    else 'old' || i || '@example.com' end as email,
    '+44 20 7946 ' || lpad((i % 10000)::varchar, 4, '0') as phone,
    'individual' as account_type, 'active' as status,
    timestamp '2024-01-01 00:00:00' + to_days(version::integer) as updated_at,
    now()::timestamp as _loaded_at
from (select i, 'C' || lpad(i::varchar, 7, '0') as customer_id from range(1, $n + 1) as t(i)),
    (select unnest([1, 2]) as version)
"""


def record_passed_gate(con: duckdb.DuckDBPyConnection, as_of: date, run_id: str = "fake-gate") -> None:
    """A passed marts gate on the marts as they are: publishing refuses marts without one."""
    passed = ExpectationResult("marts.customer_tiers", "fake.passed", "fake", None, "critical", PASSED, True)
    validated_at = datetime.now(UTC).replace(tzinfo=None)
    write_results(con, [passed], run_id=run_id, validated_at=validated_at, as_of_date=as_of, gate="marts")


def build_marts(path: Path, *, customers: int = 200, as_of: date = date(2024, 1, 31), every: int = 4) -> Path:
    """Create marts.customer_tiers, marts.tier_changes and raw.contacts in ``path``, gate passed."""
    con = duckdb.connect(str(path))
    try:
        con.execute("set enable_progress_bar = false")
        con.execute("create schema if not exists marts; create schema if not exists raw")
        con.execute(_TIERS_SQL, {"n": customers, "as_of": as_of})
        con.execute(_CHANGES_SQL, {"every": every, "as_of": as_of})
        con.execute(_CONTACTS_SQL, {"n": customers})
        record_passed_gate(con, as_of)
    finally:
        con.close()
    return path


def execute(path: Path, sql: str, params: object = None) -> list[tuple[object, ...]]:
    """Run one statement against the warehouse file (tests change the marts between runs)."""
    con = duckdb.connect(str(path))
    try:
        cursor = con.execute(sql, params) if params is not None else con.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        con.close()
