-- The evaluation this build computes: one row.
-- as_of_date comes from var as_of_date (or env var TIERWISE_AS_OF_DATE), else the
-- latest order date in staging.
-- Orders count when placed on or before as_of_date; record versions count
-- when known before cutoff_at (the end of as_of_date), so a past month can be
-- rebuilt later without leaking anything that happened after it.
{%- set as_of = tierwise_as_of_date() %}
{%- if as_of %}
    {%- set as_of_expression = "cast('" ~ as_of ~ "' as date)" %}
{%- else %}
    {%- set as_of_expression = 'coalesce(latest_order_date, current_date)' %}
{%- endif %}

with latest_order as (

    select max(cast(ordered_at as date)) as latest_order_date
    from {{ ref('stg_shop__orders') }}

),

resolved as (

    select {{ as_of_expression }} as as_of_date
    from latest_order

)

select
    as_of_date,
    cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as evaluation_month,
    cast({{ dbt.dateadd('day', 1, dbt.dateadd('month', -1 * var('evaluation_window_months'), 'as_of_date')) }} as date)
        as window_start_date,
    cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as {{ dbt.type_timestamp() }}) as cutoff_at,
    {{ var('evaluation_window_months') }} as evaluation_window_months
from resolved
