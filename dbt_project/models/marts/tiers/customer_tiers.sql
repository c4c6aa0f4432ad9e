-- The current evaluation: one row per customer, the evaluation month this
-- build wrote to customer_tier_history (the month of var as_of_date, which is
-- the latest evaluation in the monthly runs). Publishing checks that the
-- evaluation is the run's own, so a backfilled month is published as itself.

with history as (

    select * from {{ ref('customer_tier_history') }}

),

built_month as (

    select evaluation_month
    from {{ ref('int_evaluation_dates_resolved') }}

)

select
    history.customer_id,
    history.as_of_date,
    history.measure_value,
    history.revenue_share,
    history.cumulative_share,
    history.abc_class,
    history.tier_code,
    history.tier_name,
    history.tier_rank,
    history.is_eligible,
    history.ineligibility_reason,
    history.tier_rule,
    history.next_tier_code,
    history.gap_to_next_tier,
    history.evaluation_month,
    history.measure_name,
    history.measure_orders,
    history.window_net_revenue,
    history.abc_method,
    history.earned_tier_code,
    history.grace_evaluations_used,
    history.previous_tier_code,
    history.orders_gap_to_next_tier,
    history.next_tier_min_value,
    history.predicted_clv,
    history.is_most_valuable,
    history.is_most_growable,
    history.is_below_zero
from history
inner join built_month
    on history.evaluation_month = built_month.evaluation_month
