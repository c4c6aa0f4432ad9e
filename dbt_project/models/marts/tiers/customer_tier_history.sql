-- One row per customer per evaluation month. Each build (re)writes the month
-- of var as_of_date only (delete+insert on evaluation_month), from data known
-- at that date, so any past month can be rebuilt without later orders leaking
-- in. Downgrade grace: a customer who earns a lower tier than the previous
-- evaluation's keeps the previous tier for downgrade_grace_evaluations
-- evaluations before moving down (ineligible customers drop at once).
-- Rebuild later months after rebuilding an earlier one: grace reads the
-- evaluation before.
{{ config(**tierwise_history_config()) }}

with evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

laddered as (

    select * from {{ ref('int_customers_laddered') }}

),

ladder as (

    select * from {{ ref('int_tier_ladder_validated') }}

),

predicted as (

    select * from {{ ref('int_customers_predicted') }}

),

previous_evaluation as (

    {%- if is_incremental() %}
        select
            history.customer_id,
            history.as_of_date,
            history.tier_code,
            history.grace_evaluations_used
        from {{ this }} as history
        where history.evaluation_month = (
                select max(earlier.evaluation_month)
                from {{ this }} as earlier
                cross join evaluation
                where earlier.evaluation_month < evaluation.evaluation_month
            )
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as date) as as_of_date,
            cast(null as {{ dbt.type_string() }}) as tier_code,
            cast(null as {{ dbt.type_int() }}) as grace_evaluations_used
        where 1 = 0
    {%- endif %}

),

assessed as (

    select
        laddered.*,
        evaluation.evaluation_month,
        previous_evaluation.as_of_date as previous_as_of_date,
        previous_evaluation.tier_code as previous_tier_code,
        previous_tier.tier_rank as previous_tier_rank,
        coalesce(previous_evaluation.grace_evaluations_used, 0) as previous_grace_used
    from laddered
    cross join evaluation
    left join previous_evaluation
        on laddered.customer_id = previous_evaluation.customer_id
    left join ladder as previous_tier
        on previous_evaluation.tier_code = previous_tier.tier_code

),

graced as (

    select
        *,
        is_eligible
        and previous_tier_rank is not null
        and earned_tier_rank < previous_tier_rank
        and previous_grace_used < {{ var('downgrade_grace_evaluations') }} as is_in_grace
    from assessed

),

assigned as (

    select
        graced.*,
        case when graced.is_in_grace then graced.previous_tier_code else graced.earned_tier_code end as tier_code,
        case when graced.is_in_grace then graced.previous_grace_used + 1 else 0 end as grace_evaluations_used,
        case
            when graced.is_in_grace then {{ dbt.concat([
                "'grace '", "cast(previous_grace_used + 1 as " ~ dbt.type_string() ~ ")",
                "'/" ~ var('downgrade_grace_evaluations') ~ ": keeps '", 'previous_tier_code',
                "' (earned '", 'earned_tier_rule', "')'"]) }}
            else graced.earned_tier_rule
        end as tier_rule
    from graced

),

clv_positions as (

    select
        customer_id,
        predicted_clv,
        (rank() over (order by predicted_clv desc) - 1) * 1.0
        / count(*) over () as clv_position
    from predicted
    where predicted_clv is not null

),

final as (

    select
        {{ dbt.concat([
            'assigned.customer_id', "'|'", "cast(assigned.evaluation_month as " ~ dbt.type_string() ~ ")"
        ]) }} as history_key,
        assigned.customer_id,
        assigned.evaluation_month,
        assigned.as_of_date,
        assigned.measure_name,
        assigned.measure_value,
        assigned.measure_orders,
        assigned.window_net_revenue,
        assigned.revenue_share,
        assigned.cumulative_share,
        assigned.abc_method,
        assigned.abc_class,
        assigned.is_eligible,
        assigned.ineligibility_reason,
        assigned.tenure_months,
        assigned.earned_tier_code,
        assigned.earned_tier_rank,
        assigned.tier_code,
        tier.tier_name,
        tier.tier_rank,
        assigned.tier_rule,
        assigned.grace_evaluations_used,
        assigned.previous_as_of_date,
        assigned.previous_tier_code,
        case when assigned.is_eligible then tier.next_tier_code end as next_tier_code,
        case when assigned.is_eligible and tier.next_tier_code is not null then
                case
                    when tier.next_tier_min_value > assigned.measure_value
                        then tier.next_tier_min_value - assigned.measure_value
                    else 0
                end
        end as gap_to_next_tier,
        case when assigned.is_eligible and tier.next_tier_code is not null then
                case
                    when tier.next_tier_min_orders > assigned.measure_orders
                        then tier.next_tier_min_orders - assigned.measure_orders
                    else 0
                end
        end as orders_gap_to_next_tier,
        tier.next_tier_min_value,
        clv_positions.predicted_clv,
        assigned.abc_class = 'A' as is_most_valuable,
        assigned.abc_class <> 'A'
        and assigned.is_eligible
        and (
            (
                tier.next_tier_code is not null
                and tier.next_tier_min_value - assigned.measure_value
                <= {{ var('growable_gap_ratio') }} * tier.next_tier_min_value
            )
            or coalesce(clv_positions.clv_position < {{ var('growable_clv_top_share') }}, false)
        ) as is_most_growable,
        assigned.measure_value < 0 as is_below_zero
    from assigned
    inner join ladder as tier
        on assigned.tier_code = tier.tier_code
    left join clv_positions
        on assigned.customer_id = clv_positions.customer_id

)

select * from final
