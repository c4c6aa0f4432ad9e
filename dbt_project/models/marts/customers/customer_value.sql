-- Customer value as of the evaluation date: one row per customer who has a
-- CRM contact or an order (surviving ids of merged contacts). Lifetime and
-- window measures, RFM scores and segment, historic CLV (net revenue x
-- margin) and predicted CLV (BG/NBD + Gamma-Gamma, discounted over
-- clv_horizon_months, or the historic fallback: see purchases_basis and
-- spend_basis). Money in EUR.

with measured as (

    select * from {{ ref('int_customers_measured') }}

),

scored as (

    select * from {{ ref('int_customers_scored') }}

),

predicted as (

    select * from {{ ref('int_customers_predicted') }}

),

evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

)

select
    measured.customer_id,
    measured.as_of_date,
    measured.first_order_at,
    measured.last_order_at,
    measured.tenure_days,
    measured.orders_count,
    measured.net_revenue,
    measured.avg_order_value,
    measured.recency_days,
    measured.frequency,
    measured.monetary,
    measured.repeat_purchase_rate,
    measured.complaints_count,
    scored.r_score,
    scored.f_score,
    scored.m_score,
    scored.rfm_segment,
    measured.historic_clv,
    scored.fm_score,
    scored.rfm_cell,
    measured.relationship_started_on,
    evaluation.window_start_date,
    evaluation.evaluation_window_months,
    predicted.probability_alive,
    predicted.predicted_purchases,
    predicted.expected_avg_spend,
    cast(predicted.predicted_clv as decimal(18, 2)) as predicted_clv,
    predicted.purchases_basis,
    predicted.spend_basis,
    {{ var('clv_horizon_months') }} as clv_horizon_months
from measured
cross join evaluation
left join scored
    on measured.customer_id = scored.customer_id
left join predicted
    on measured.customer_id = predicted.customer_id
