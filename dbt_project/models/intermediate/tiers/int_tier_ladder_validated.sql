-- The tier ladder (seed tier_ladder), checked before anything grades a
-- customer: unique codes and ranks, the unrated tier at the bottom, min_value
-- strictly rising and min_orders never falling with tier_rank. A bad ladder
-- stops the build here with a message listing every problem. Each tier gets
-- the tier above it (the next tier a customer can reach).
{%- if execute %}
    {%- set ladder_relation = load_relation(ref('tier_ladder')) %}
    {%- if ladder_relation is not none %}
        {%- set ladder_rows = run_query(
            'select tier_code, tier_name, tier_rank, min_value, min_orders from '
            ~ ladder_relation ~ ' order by tier_rank'
        ) %}
        {%- do tierwise_validate_tier_ladder(ladder_rows.rows) %}
    {%- endif %}
{%- endif %}

with ladder as (

    select
        tier_code,
        tier_name,
        tier_rank,
        min_value,
        min_orders
    from {{ ref('tier_ladder') }}

),

with_next as (

    select
        tier_code,
        tier_name,
        tier_rank,
        min_value,
        min_orders,
        tier_code = '{{ var("unrated_tier_code") }}' as is_unrated,
        lead(tier_code) over (order by tier_rank) as next_tier_code,
        lead(min_value) over (order by tier_rank) as next_tier_min_value,
        lead(min_orders) over (order by tier_rank) as next_tier_min_orders
    from ladder

)

select * from with_next
