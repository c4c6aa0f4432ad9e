-- The tier ladder (seed tier_ladder), checked before anything is loaded or
-- built (on-run-start, macro tierwise_validate_seeds): unique codes and ranks,
-- the unrated tier at the bottom, min_value strictly rising and min_orders
-- never falling with tier_rank. Each tier gets the tier above it (the next
-- tier a customer can reach). When var tier_ladder_file names a CSV with the
-- seed's columns (a proposed ladder: tierwise simulate), that file is the
-- ladder, checked by the same hook; the seed stays loaded as it is.
-- depends_on: {{ ref('tier_ladder') }}
{%- set ladder_file = tierwise_tier_ladder_file() %}

with ladder as (

    select
        tier_code,
        tier_name,
        tier_rank,
        min_value,
        min_orders
    {%- if ladder_file %}
        from {{ tierwise_tier_ladder_from_file(ladder_file) }}
    {%- else %}
        from {{ ref('tier_ladder') }}
    {%- endif %}

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
