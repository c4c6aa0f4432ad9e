-- Order lines placed on or before the evaluation date, as known then: one row
-- per (order_id, line_no), with the surviving customer, net amount (0 when
-- cancelled, else gross - discount - refunded) and EUR amounts.
-- A view: the lines are already a table (int_orders_converted) and this adds the
-- derived keys and two evaluation columns, so a second 10M-row copy would cost a
-- fifth of the build for nothing. The BI snapshot turns it into a table.
{{ config(materialized='view') }}

with order_lines as (

    select * from {{ ref('int_orders_converted') }}

),

evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

)

select
    {{ tierwise_order_line_key('order_lines') }} as order_line_key,
    order_lines.order_id,
    order_lines.line_no,
    {{ tierwise_purchase_id('order_lines') }} as purchase_id,
    order_lines.customer_id,
    coalesce(order_lines.merged_from_customer_id, order_lines.customer_id) as ordered_by_customer_id,
    evaluation.as_of_date,
    order_lines.ordered_at,
    order_lines.ordered_on,
    order_lines.order_status,
    order_lines.payment_method,
    order_lines.parent_order_id,
    order_lines.currency_code,
    order_lines.gross_amount,
    order_lines.discount_amount,
    order_lines.refunded_amount,
    order_lines.net_amount,
    order_lines.fx_rate_to_eur,
    order_lines.gross_amount_eur,
    order_lines.net_amount_eur,
    order_lines.is_revenue_line,
    order_lines.version_updated_at,
    order_lines.ordered_on >= evaluation.window_start_date as is_in_evaluation_window
from order_lines
cross join evaluation
