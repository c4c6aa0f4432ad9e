-- The tier each customer earns this evaluation from the tier ladder: the
-- highest rated tier whose min_value (on the measure) and min_orders the
-- customer reaches, for eligible customers; the unrated bottom tier for
-- everyone else. Downgrade grace is applied later, in customer_tier_history.

with classified as (

    select * from {{ ref('int_customers_classified') }}

),

qualified as (

    select * from {{ ref('int_customers_qualified') }}

),

ladder as (

    select * from {{ ref('int_tier_ladder_validated') }}

),

unrated as (

    select * from ladder
    where is_unrated

),

reached as (

    select
        classified.customer_id,
        ladder.tier_code,
        ladder.tier_rank,
        ladder.min_value,
        ladder.min_orders,
        row_number() over (partition by classified.customer_id order by ladder.tier_rank desc) as reach_rank
    from classified
    inner join qualified
        on classified.customer_id = qualified.customer_id
    inner join ladder
        on classified.measure_value >= ladder.min_value
            and classified.measure_orders >= ladder.min_orders
    where qualified.is_eligible
        and not ladder.is_unrated

)

select
    classified.customer_id,
    classified.as_of_date,
    classified.measure_name,
    classified.measure_value,
    classified.measure_orders,
    classified.window_net_revenue,
    classified.revenue_share,
    classified.cumulative_share,
    classified.abc_method,
    classified.abc_class,
    qualified.is_eligible,
    qualified.ineligibility_reason,
    qualified.tenure_months,
    coalesce(reached.tier_code, unrated.tier_code) as earned_tier_code,
    coalesce(reached.tier_rank, unrated.tier_rank) as earned_tier_rank,
    case
        when not qualified.is_eligible
            then {{ dbt.concat(["'ineligible: '", 'qualified.ineligibility_reason']) }}
        when reached.tier_code is null
            then {{ dbt.concat(["'below the lowest tier: '", 'classified.measure_name', "' '",
                "cast(classified.measure_value as " ~ dbt.type_string() ~ ")",
                "', orders '", "cast(classified.measure_orders as " ~ dbt.type_string() ~ ")"]) }}
        else {{ dbt.concat(['reached.tier_code', "': '", 'classified.measure_name', "' '",
            "cast(classified.measure_value as " ~ dbt.type_string() ~ ")", "' >= '",
            "cast(reached.min_value as " ~ dbt.type_string() ~ ")", "' and orders '",
            "cast(classified.measure_orders as " ~ dbt.type_string() ~ ")", "' >= '",
            "cast(reached.min_orders as " ~ dbt.type_string() ~ ")"]) }}
    end as earned_tier_rule
from classified
inner join qualified
    on classified.customer_id = qualified.customer_id
cross join unrated
left join reached
    on classified.customer_id = reached.customer_id
        and reached.reach_rank = 1
