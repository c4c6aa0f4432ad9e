-- Purchase summary per customer in the shape the BG/NBD and Gamma-Gamma
-- models expect, measured in weeks up to the evaluation date:
-- frequency = repeat purchase days (purchase days - 1), recency = weeks from
-- the first to the last purchase day, age = weeks from the first purchase day
-- to as_of_date, monetary_value = mean net revenue of the repeat purchase days.
-- Only customers with at least one purchase day (positive net revenue) appear.

with evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

order_lines as (

    select * from {{ ref('int_orders_converted') }}

),

purchase_days as (

    select
        customer_id,
        ordered_on as purchased_on,
        sum(net_amount_eur) as day_value
    from order_lines
    group by customer_id, ordered_on
    having sum(net_amount_eur) > 0

),

-- The first purchase day is not a repeat: its value is taken off the total
-- (min_by) rather than numbering the ~9M purchase days with a window.
per_customer as (

    select
        customer_id,
        count(*) - 1 as repeat_purchases,
        min(purchased_on) as first_purchase_on,
        max(purchased_on) as last_purchase_on,
        sum(day_value) - {{ tierwise_min_by('day_value', 'purchased_on') }} as repeat_value
    from purchase_days
    group by customer_id

)

select
    per_customer.customer_id,
    evaluation.as_of_date,
    per_customer.first_purchase_on,
    per_customer.last_purchase_on,
    per_customer.repeat_purchases as frequency,
    {{ dbt.datediff('per_customer.first_purchase_on', 'per_customer.last_purchase_on', 'day') }} / 7.0 as recency_weeks,
    {{ dbt.datediff('per_customer.first_purchase_on', 'evaluation.as_of_date', 'day') }} / 7.0 as age_weeks,
    cast(case
        when per_customer.repeat_purchases > 0 then per_customer.repeat_value / per_customer.repeat_purchases
        else 0
    end as double) as monetary_value
from per_customer
cross join evaluation
