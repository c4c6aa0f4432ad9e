-- Current state of every order line: the latest version per (order_id, line_no),
-- by updated_at, then load time.

with order_versions as (

    select * from {{ ref('stg_shop__order_versions') }}

),

latest_versions as (

    select
        order_id,
        line_no,
        customer_id,
        ordered_at,
        order_status,
        currency_code,
        gross_amount,
        discount_amount,
        refunded_amount,
        payment_method,
        parent_order_id,
        updated_at,
        source_file,
        source_line,
        file_checksum,
        file_date,
        loaded_at
    from order_versions
    where is_latest_version

)

select * from latest_versions
