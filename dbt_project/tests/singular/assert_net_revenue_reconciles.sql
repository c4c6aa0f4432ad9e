-- Reconciliation: net revenue in the marts equals net revenue recomputed from
-- staging, up to as_of_date. Staging side: every order line placed on or
-- before as_of_date, in its version in force at the end of that day, with the
-- contract's net amount, summed per currency. Marts side: marts.orders per
-- currency, and customer_value (EUR) against marts.orders (EUR).
-- Returns one row per mismatch.

with evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

staged_lines as (

    select
        versions.currency_code,
        case
            when versions.order_status = 'cancelled' then 0
            else versions.gross_amount - versions.discount_amount - versions.refunded_amount
        end as net_amount
    from {{ ref('stg_shop__order_versions') }} as versions
    cross join evaluation
    where versions.ordered_at < {{ tierwise_cutoff_at() }}
        and versions.valid_from < {{ tierwise_cutoff_at() }}
        and (versions.valid_to is null or versions.valid_to >= {{ tierwise_cutoff_at() }})

),

staged as (

    select
        currency_code,
        sum(net_amount) as net_amount
    from staged_lines
    group by currency_code

),

mart_orders as (

    select
        currency_code,
        sum(net_amount) as net_amount
    from {{ ref('orders') }}
    group by currency_code

),

currency_mismatches as (

    select
        {{ dbt.concat(["'orders vs staging, '", 'coalesce(staged.currency_code, mart_orders.currency_code)']) }}
            as check_name,
        staged.net_amount as expected,
        mart_orders.net_amount as actual
    from staged
    full outer join mart_orders
        on staged.currency_code = mart_orders.currency_code
    where coalesce(staged.net_amount, 0) <> coalesce(mart_orders.net_amount, 0)

),

order_totals as (

    select coalesce(sum(net_amount_eur), 0) as net_revenue_eur
    from {{ ref('orders') }}

),

value_totals as (

    select coalesce(sum(net_revenue), 0) as net_revenue_eur
    from {{ ref('customer_value') }}

),

eur_mismatches as (

    select
        'customer_value vs orders, EUR' as check_name,
        order_totals.net_revenue_eur as expected,
        value_totals.net_revenue_eur as actual
    from order_totals
    cross join value_totals
    where abs(order_totals.net_revenue_eur - value_totals.net_revenue_eur) > 0.005

)

select * from currency_mismatches
union all
select * from eur_mismatches
