-- Order lines placed on or before as_of_date, in the version known at the
-- cut-off, with the contract's net amount and EUR amounts at the rate in force
-- on the order date (int_fx_rates_validated: the fx_rates seed and the rates
-- file). An order day without a rate in force (a currency with no rate, or a
-- day before its first valid_from) fails the build naming the currency and
-- the first such day: a guessed rate would misstate revenue silently.
-- customer_id is the surviving customer of a merged contact.

with evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

order_versions as (

    select * from {{ ref('stg_shop__order_versions') }}

),

contacts as (

    select * from {{ ref('int_contacts_resolved') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_validated') }}

),

orders_as_of as (

    select
        order_versions.*,
        cast(order_versions.ordered_at as date) as ordered_on
    from order_versions
    cross join evaluation
    where {{ tierwise_version_as_of('order_versions', tierwise_cutoff_at()) }}
        and order_versions.ordered_at < {{ tierwise_cutoff_at() }}

),

order_days as (

    select distinct
        currency_code,
        ordered_on
    from orders_as_of

),

-- Rates per (currency, day) first: a few thousand rows, so the 10M order lines
-- take an equi-join instead of a range join on every line.
day_rates as (

    select
        order_days.currency_code,
        order_days.ordered_on,
        dated_rate.rate_to_eur
    from order_days
    left join fx_rates as dated_rate
        on order_days.currency_code = dated_rate.currency
            and order_days.ordered_on >= dated_rate.valid_from
            and (dated_rate.valid_to is null or order_days.ordered_on < dated_rate.valid_to)

),

-- Order days without a rate, counted per currency and named in one message
-- (windows over the day table: the order lines are not read again).
day_rates_counted as (

    select
        currency_code,
        ordered_on,
        rate_to_eur,
        min(case when rate_to_eur is null then ordered_on end)
            over (partition by currency_code) as first_missing_on,
        count(case when rate_to_eur is null then 1 end)
            over (partition by currency_code) as missing_days
    from day_rates

),

day_rates_named as (

    select
        currency_code,
        ordered_on,
        rate_to_eur,
        {{ tierwise_string_agg_window(
            "case
                when rate_to_eur is null and ordered_on = first_missing_on
                    then coalesce(currency_code, '(empty currency)') || ' on '
                        || cast(ordered_on as " ~ dbt.type_string() ~ ")
                        || ' (order days without a rate: '
                        || cast(missing_days as " ~ dbt.type_string() ~ ") || ')'
            end",
            "'; '",
            'currency_code',
        ) }} as missing_rates
    from day_rates_counted

),

-- coalesce evaluates the error only for a day without a rate.
day_rates_checked as (

    select
        currency_code,
        ordered_on,
        coalesce(rate_to_eur, {{ tierwise_raise_error(
            "'No FX rate in force for ' || missing_rates || '. Add the rates to "
            ~ "dbt_project/seeds/fx_rates.csv or to the rates file of var fx_rates_file "
            ~ "(docs/ingestion.md, Currencies).'"
        ) }}) as fx_rate_to_eur
    from day_rates_named

),

with_money as (

    select
        orders_as_of.*,
        day_rates.fx_rate_to_eur,
        case
            when orders_as_of.order_status = 'cancelled' then cast(0 as decimal(18, 2))
            else orders_as_of.gross_amount - orders_as_of.discount_amount - orders_as_of.refunded_amount
        end as net_amount
    from orders_as_of
    left join day_rates_checked as day_rates
        on orders_as_of.currency_code = day_rates.currency_code
            and orders_as_of.ordered_on = day_rates.ordered_on

)

-- Only what differs per line is stored: the line key, purchase id and ordering
-- customer are derived by the readers (orders mart, tierwise_purchase_id). At 10M
-- lines each such string column costs 1-2 s of every build to compress and write.
select
    with_money.order_id,
    with_money.line_no,
    with_money.ordered_at,
    with_money.ordered_on,
    with_money.order_status,
    with_money.payment_method,
    with_money.parent_order_id,
    with_money.currency_code,
    with_money.gross_amount,
    with_money.discount_amount,
    with_money.refunded_amount,
    with_money.net_amount,
    with_money.fx_rate_to_eur,
    with_money.updated_at as version_updated_at,
    cast(with_money.gross_amount * with_money.fx_rate_to_eur as decimal(18, 2)) as gross_amount_eur,
    cast(with_money.net_amount * with_money.fx_rate_to_eur as decimal(18, 2)) as net_amount_eur,
    coalesce(contacts.surviving_customer_id, with_money.customer_id) as customer_id,
    case
        when contacts.surviving_customer_id <> with_money.customer_id then with_money.customer_id
    end as merged_from_customer_id,
    with_money.order_status <> 'cancelled' and with_money.net_amount > 0 as is_revenue_line
from with_money
left join contacts
    on with_money.customer_id = contacts.customer_id
