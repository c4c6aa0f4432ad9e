-- The evaluation this build computes: one row.
-- as_of_date comes from var as_of_date (or env var TIERWISE_AS_OF_DATE), else the
-- latest order date in staging.
-- Orders count when placed on or before as_of_date; record versions count
-- when known before cutoff_at (the end of as_of_date), so a past month can be
-- rebuilt later without leaking anything that happened after it.
-- evaluation_window_months `all` makes the window the whole history: it starts
-- with the first order, so a one-off export is measured from its first day.
{%- set as_of = tierwise_as_of_date() %}
{%- set whole_history = var('evaluation_window_months') == 'all' %}
{%- if as_of %}
    {%- set as_of_expression = "cast('" ~ as_of ~ "' as date)" %}
{%- else %}
    {%- set as_of_expression = 'coalesce(latest_order_date, current_date)' %}
{%- endif %}

with latest_order as (

    select
        min(cast(ordered_at as date)) as first_order_date,
        max(cast(ordered_at as date)) as latest_order_date
    from {{ ref('stg_shop__orders') }}

),

resolved as (

    select
        {{ as_of_expression }} as as_of_date,
        first_order_date
    from latest_order

)

select
    as_of_date,
    cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as evaluation_month,
    {%- if whole_history %}
        least(coalesce(first_order_date, as_of_date), as_of_date) as window_start_date,
    {%- else %}
        {%- set months_back = dbt.dateadd('month', -1 * var('evaluation_window_months'), 'as_of_date') %}
        cast({{ dbt.dateadd('day', 1, months_back) }} as date) as window_start_date,
    {%- endif %}
    cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as {{ dbt.type_timestamp() }}) as cutoff_at,
    {{ 'cast(null as ' ~ dbt.type_int() ~ ')' if whole_history else var('evaluation_window_months') }}
        as evaluation_window_months
from resolved
