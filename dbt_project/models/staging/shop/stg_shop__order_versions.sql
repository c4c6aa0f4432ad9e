-- Every version of every order line, renamed and cast, one row per
-- (order_id, line_no, updated_at); re-exports of a version keep the latest load.
-- Incremental: a build recomputes only the keys touched by the loads since the
-- last one (tierwise_rows_to_version), all their versions, from raw; a full
-- build computes the version windows once for every model and test reading them.
{{ config(**tierwise_versions_config(['order_id', 'line_no'], 'orders')) }}

{%- set columns = [
    'order_id', 'line_no', 'customer_id', 'ordered_at', 'order_status',
    'currency_code', 'gross_amount', 'discount_amount', 'refunded_amount',
    'payment_method', 'parent_order_id', 'updated_at',
    'source_file', 'source_line', 'file_checksum', 'file_date', 'loaded_at'
] %}

with source_orders as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(coalesce(line_no, 1) as {{ dbt.type_int() }}) as line_no,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
        lower(status) as order_status,
        upper(currency) as currency_code,
        cast(gross_amount as decimal(18, 2)) as gross_amount,
        cast(coalesce(discount_amount, 0) as decimal(18, 2)) as discount_amount,
        cast(coalesce(refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        lower(payment_method) as payment_method,
        nullif(trim(parent_order_id), '') as parent_order_id,
        cast(coalesce(updated_at, ordered_at) as {{ dbt.type_timestamp() }}) as updated_at,
        _source_file as source_file,
        _source_line as source_line,
        _file_checksum as file_checksum,
        _file_date as file_date,
        _loaded_at as loaded_at
    from source_orders

),

to_version as (

    {{ tierwise_rows_to_version('renamed', 'orders', ['order_id', 'line_no']) }}

),

versions as (

    {{ tierwise_version_rows('to_version', ['order_id', 'line_no'], 'updated_at', columns) }}

)

select * from versions
