{#
    Keys derived from an order line (int_orders_converted stores neither: at 10M
    lines each string column costs seconds of every build).

    A purchase is an order with its split shipments: a shipment carries the
    order it was split from in parent_order_id.
#}
{% macro tierwise_purchase_id(lines_alias) -%}
    coalesce({{ lines_alias }}.parent_order_id, {{ lines_alias }}.order_id)
{%- endmacro %}

{% macro tierwise_order_line_key(lines_alias) -%}
    {{ lines_alias }}.order_id || '-' || cast({{ lines_alias }}.line_no as {{ dbt.type_string() }})
{%- endmacro %}

{#
    The value of `value_column` on the row where `order_column` is smallest, as
    an aggregate. DuckDB, Snowflake, Databricks and Trino call it min_by.
#}
{% macro tierwise_min_by(value_column, order_column) -%}
    {{ return(adapter.dispatch('tierwise_min_by', 'tierwise')(value_column, order_column)) }}
{%- endmacro %}

{% macro default__tierwise_min_by(value_column, order_column) -%}
    min_by({{ value_column }}, {{ order_column }})
{%- endmacro %}

{% macro postgres__tierwise_min_by(value_column, order_column) -%}
    (array_agg({{ value_column }} order by {{ order_column }}))[1]
{%- endmacro %}

{% macro bigquery__tierwise_min_by(value_column, order_column) -%}
    array_agg({{ value_column }} order by {{ order_column }} limit 1)[offset(0)]
{%- endmacro %}
