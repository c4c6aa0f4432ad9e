-- Tier changes between consecutive evaluations of customer_tier_history, one
-- row per customer and evaluation whose tier differs from the evaluation
-- before: entry (from unrated, or first graded at a rated tier), exit (to
-- unrated, or gone: merged into another customer), upgrade, downgrade.
-- Rebuilt from the whole history on every build.

with history as (

    select * from {{ ref('customer_tier_history') }}

),

ladder as (

    select * from {{ ref('int_tier_ladder_validated') }}

),

evaluations as (

    select
        evaluation_month,
        max(as_of_date) as as_of_date
    from history
    group by evaluation_month

),

evaluation_pairs as (

    select
        evaluation_month,
        as_of_date,
        lag(evaluation_month) over (order by evaluation_month) as previous_month,
        lag(as_of_date) over (order by evaluation_month) as previous_as_of_date
    from evaluations

),

moves as (

    select
        current_row.customer_id,
        evaluation_pairs.as_of_date,
        evaluation_pairs.previous_as_of_date,
        previous_row.tier_code as from_tier_code,
        previous_row.tier_rank as from_tier_rank,
        current_row.tier_code as to_tier_code,
        current_row.tier_rank as to_tier_rank,
        current_row.tier_rule as reason
    from history as current_row
    inner join evaluation_pairs
        on current_row.evaluation_month = evaluation_pairs.evaluation_month
    left join history as previous_row
        on current_row.customer_id = previous_row.customer_id
            and evaluation_pairs.previous_month = previous_row.evaluation_month

),

departures as (

    select
        previous_row.customer_id,
        evaluation_pairs.as_of_date,
        evaluation_pairs.previous_as_of_date,
        previous_row.tier_code as from_tier_code,
        previous_row.tier_rank as from_tier_rank,
        ladder.tier_code as to_tier_code,
        ladder.tier_rank as to_tier_rank,
        'customer no longer evaluated (merged into another customer or removed)' as reason
    from history as previous_row
    inner join evaluation_pairs
        on previous_row.evaluation_month = evaluation_pairs.previous_month
    cross join ladder
    left join history as current_row
        on previous_row.customer_id = current_row.customer_id
            and evaluation_pairs.evaluation_month = current_row.evaluation_month
    where current_row.customer_id is null
        and ladder.is_unrated

),

all_moves as (

    select * from moves
    union all
    select * from departures

),

classified as (

    select
        *,
        case
            when to_tier_code = '{{ var("unrated_tier_code") }}' then 'exit'
            when from_tier_code is null or from_tier_code = '{{ var("unrated_tier_code") }}' then 'entry'
            when to_tier_rank > from_tier_rank then 'upgrade'
            else 'downgrade'
        end as change_type
    from all_moves
    where coalesce(from_tier_code, '{{ var("unrated_tier_code") }}') <> to_tier_code

)

select
    {{ dbt.concat(['customer_id', "'|'", "cast(as_of_date as " ~ dbt.type_string() ~ ")"]) }} as change_key,
    customer_id,
    as_of_date,
    previous_as_of_date,
    from_tier_code,
    to_tier_code,
    change_type,
    reason
from classified
