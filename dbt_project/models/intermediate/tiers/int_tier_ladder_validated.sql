-- The tier ladder (seed tier_ladder), checked before anything is loaded or
-- built (on-run-start, macro tierwise_validate_seeds): unique codes and ranks,
-- the unrated tier at the bottom, min_value strictly rising and min_orders
-- never falling with tier_rank. Each tier gets the tier above it (the next
-- tier a customer can reach).

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
