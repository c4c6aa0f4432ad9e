-- Value measures per customer as of the evaluation date: lifetime purchases
-- and revenue, and the window measures (recency, frequency, monetary) over the
-- last evaluation_window_months. A purchase is an order with its split
-- shipments (purchase_id) whose net amount is positive; revenue is net of
-- discounts, refunds and returns, in EUR.

with evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

customers as (

    select * from {{ ref('int_customers_unioned') }}

),

order_lines as (

    select * from {{ ref('int_orders_converted') }}

),

tickets as (

    select * from {{ ref('int_tickets_attributed') }}

),

purchases as (

    select
        order_lines.customer_id,
        {{ tierwise_purchase_id('order_lines') }} as purchase_id,
        min(order_lines.ordered_at) as purchased_at,
        min(order_lines.ordered_on) as purchased_on,
        sum(order_lines.net_amount_eur) as net_amount_eur
    from order_lines
    group by order_lines.customer_id, {{ tierwise_purchase_id('order_lines') }}

),

lifetime as (

    select
        customer_id,
        sum(net_amount_eur) as net_revenue,
        sum(case when net_amount_eur > 0 then 1 else 0 end) as orders_count,
        min(case when net_amount_eur > 0 then purchased_at end) as first_order_at,
        max(case when net_amount_eur > 0 then purchased_at end) as last_order_at
    from purchases
    group by customer_id

),

in_window as (

    select
        purchases.customer_id,
        sum(purchases.net_amount_eur) as monetary,
        sum(case when purchases.net_amount_eur > 0 then 1 else 0 end) as frequency
    from purchases
    cross join evaluation
    where purchases.purchased_on >= evaluation.window_start_date
    group by purchases.customer_id

),

complaints as (

    select
        tickets.customer_id,
        count(*) as complaints_count
    from tickets
    cross join evaluation
    where tickets.is_complaint
        and tickets.opened_on >= evaluation.window_start_date
    group by tickets.customer_id

),

combined as (

    select
        customers.customer_id,
        evaluation.as_of_date,
        lifetime.first_order_at,
        lifetime.last_order_at,
        case
            when customers.signup_date is null then cast(lifetime.first_order_at as date)
            when lifetime.first_order_at is null then customers.signup_date
            when customers.signup_date <= cast(lifetime.first_order_at as date) then customers.signup_date
            else cast(lifetime.first_order_at as date)
        end as relationship_started_on,
        coalesce(lifetime.orders_count, 0) as orders_count,
        coalesce(lifetime.net_revenue, 0) as net_revenue,
        coalesce(in_window.frequency, 0) as frequency,
        coalesce(in_window.monetary, 0) as monetary,
        coalesce(complaints.complaints_count, 0) as complaints_count
    from customers
    cross join evaluation
    left join lifetime
        on customers.customer_id = lifetime.customer_id
    left join in_window
        on customers.customer_id = in_window.customer_id
    left join complaints
        on customers.customer_id = complaints.customer_id

)

select
    customer_id,
    as_of_date,
    first_order_at,
    last_order_at,
    relationship_started_on,
    {{ dbt.datediff('relationship_started_on', 'as_of_date', 'day') }} as tenure_days,
    orders_count,
    cast(net_revenue as decimal(18, 2)) as net_revenue,
    cast(case when orders_count > 0 then net_revenue / orders_count end as decimal(18, 2)) as avg_order_value,
    {{ dbt.datediff('cast(last_order_at as date)', 'as_of_date', 'day') }} as recency_days,
    frequency,
    cast(monetary as decimal(18, 2)) as monetary,
    case when orders_count > 0 then (orders_count - 1) * 1.0 / orders_count end as repeat_purchase_rate,
    complaints_count,
    cast(net_revenue * {{ var('clv_margin') }} as decimal(18, 2)) as historic_clv
from combined
