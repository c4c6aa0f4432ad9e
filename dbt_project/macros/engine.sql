{#
    Engine seams: SQL and configs that differ between adapters, dispatched so that
    another engine adds its <adapter>__ version (macros/spark.sql) and each model
    stays one file. The default__ versions are DuckDB's.
#}

{# A text cast to a date, null when it is not YYYY-MM-DD. #}
{% macro tierwise_try_parse_date(text) -%}
    {{ return(adapter.dispatch('tierwise_try_parse_date', 'tierwise')(text)) }}
{%- endmacro %}

{% macro default__tierwise_try_parse_date(text) -%}
    try_strptime({{ text }}, '%Y-%m-%d')
{%- endmacro %}

{# string_agg as a window (over partition_by, or over all rows), ordered by order_by. #}
{% macro tierwise_string_agg_window(expression, separator, order_by, partition_by='') -%}
    {{ return(adapter.dispatch('tierwise_string_agg_window', 'tierwise')(expression, separator, order_by, partition_by)) }}
{%- endmacro %}

{% macro default__tierwise_string_agg_window(expression, separator, order_by, partition_by) -%}
    string_agg({{ expression }}, {{ separator }} order by {{ order_by }})
    over ({{ 'partition by ' ~ partition_by if partition_by }})
{%- endmacro %}

{# A local CSV file as a relation of text columns, with a header. #}
{% macro tierwise_csv_relation(file, delimiter) -%}
    {{ return(adapter.dispatch('tierwise_csv_relation', 'tierwise')(file, delimiter)) }}
{%- endmacro %}

{% macro default__tierwise_csv_relation(file, delimiter) -%}
    {{- return("read_csv('" ~ file ~ "', header = true, all_varchar = true, delim = '" ~ delimiter ~ "')") -}}
{%- endmacro %}

{# Config of the incremental *_versions staging models (models/staging). #}
{% macro tierwise_versions_config(unique_key, entity) -%}
    {{ return(adapter.dispatch('tierwise_versions_config', 'tierwise')(unique_key, entity)) }}
{%- endmacro %}

{% macro default__tierwise_versions_config(unique_key, entity) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
        'post_hook': "{{ tierwise_delete_vanished_versions('" ~ entity ~ "') }}",
    }) }}
{%- endmacro %}

{# Config of customer_tier_history: each build replaces its evaluation month. #}
{% macro tierwise_history_config() -%}
    {{ return(adapter.dispatch('tierwise_history_config', 'tierwise')()) }}
{%- endmacro %}

{% macro default__tierwise_history_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'evaluation_month',
        'on_schema_change': 'append_new_columns',
        'full_refresh': false,
    }) }}
{%- endmacro %}
