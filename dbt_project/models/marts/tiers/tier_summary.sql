-- Per evaluation month and tier: customers, window net revenue (EUR), its
-- share of the month's revenue, the cumulative share from the top tier down,
-- and average values. Every tier of the current ladder appears each month,
-- with zeros when empty.

with history as (

    select * from {{ ref('customer_tier_history') }}

),

ladder as (

    select * from {{ ref('int_tier_ladder_validated') }}

),

months as (

    select
        evaluation_month,
        max(as_of_date) as as_of_date
    from history
    group by evaluation_month

),

per_tier as (

    select
        evaluation_month,
        tier_code,
        max(tier_name) as tier_name,
        max(tier_rank) as tier_rank,
        count(*) as customers_count,
        sum(window_net_revenue) as revenue,
        avg(measure_value) as avg_measure_value,
        avg(window_net_revenue) as avg_revenue
    from history
    group by evaluation_month, tier_code

),

grid as (

    select
        months.evaluation_month,
        ladder.tier_code
    from months
    cross join ladder

    union

    select
        evaluation_month,
        tier_code
    from per_tier

),

filled as (

    select
        grid.evaluation_month,
        months.as_of_date,
        grid.tier_code,
        cast(coalesce(per_tier.revenue, 0) as decimal(18, 2)) as revenue,
        per_tier.avg_measure_value,
        per_tier.avg_revenue,
        coalesce(ladder.tier_name, per_tier.tier_name) as tier_name,
        coalesce(ladder.tier_rank, per_tier.tier_rank) as tier_rank,
        coalesce(per_tier.customers_count, 0) as customers_count
    from grid
    inner join months
        on grid.evaluation_month = months.evaluation_month
    left join ladder
        on grid.tier_code = ladder.tier_code
    left join per_tier
        on grid.evaluation_month = per_tier.evaluation_month
            and grid.tier_code = per_tier.tier_code

),

shared as (

    select
        *,
        sum(revenue) over (partition by evaluation_month) as month_revenue,
        sum(revenue) over (
            partition by evaluation_month order by tier_rank desc
            rows between unbounded preceding and current row
        ) as revenue_through_tier
    from filled

)

select
    {{ dbt.concat(["cast(evaluation_month as " ~ dbt.type_string() ~ ")", "'|'", 'tier_code']) }} as summary_key,
    evaluation_month,
    as_of_date,
    tier_code,
    tier_name,
    tier_rank,
    customers_count,
    revenue,
    cast(case when month_revenue <> 0 then revenue / month_revenue else 0 end as {{ dbt.type_float() }})
        as revenue_share,
    cast(case when month_revenue <> 0 then revenue_through_tier / month_revenue else 0 end as {{ dbt.type_float() }})
        as cumulative_revenue_share,
    cast(avg_measure_value as decimal(18, 2)) as avg_measure_value,
    cast(avg_revenue as decimal(18, 2)) as avg_revenue
from shared
