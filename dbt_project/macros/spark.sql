{#
    Apache Spark (dbt-spark) versions of the engine-specific macros, a preview of
    issue 18; DuckDB keeps the default__ versions. README.md, "Running on Spark
    (preview)", has the commands that build the project on Spark local mode.
#}

{% macro spark__tierwise_raise_error(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{% macro spark__tierwise_read_fx_rates_file(path) -%}
    {{ exceptions.raise_compiler_error("var fx_rates_file is not supported on Spark yet (issue 18): add the rates to seeds/fx_rates.csv") }}
{%- endmacro %}

{% macro spark__tierwise_try_parse_date(text) -%}
    try_to_timestamp({{ text }}, 'yyyy-MM-dd')
{%- endmacro %}

{#- Spark has no ordered string_agg window: the values are sorted instead, and each
    message using it starts with (or is) its ordering key. -#}
{% macro spark__tierwise_string_agg_window(expression, separator, order_by, partition_by) -%}
    nullif(array_join(array_sort(collect_list({{ expression }})
        over ({{ 'partition by ' ~ partition_by if partition_by }})), {{ separator }}), '')
{%- endmacro %}

{#
    A seed's CSV as a temporary view of string columns (Spark reads a CSV with
    header and no schema inference as strings), named after the seed.
#}
{% macro spark__tierwise_csv_relation(file, delimiter) -%}
    {%- set view = 'tierwise_csv_' ~ local_md5(file) -%}
    {%- call statement('tierwise_csv_relation') -%}
        create or replace temporary view {{ view }}
        using csv options (path '{{ file }}', header 'true', sep '{{ delimiter }}')
    {%- endcall -%}
    {{- return(view) -}}
{%- endmacro %}

{#
    Incremental settings per engine. Spark's Parquet tables have no delete+insert
    (it needs Delta or Iceberg): the version models are plain tables there
    (rebuilt whole), the tier history overwrites its month's partition.
#}
{% macro spark__tierwise_versions_config(unique_key, entity) -%}
    {{ return({'materialized': 'table'}) }}
{%- endmacro %}

{% macro spark__tierwise_history_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['evaluation_month'],
        'on_schema_change': 'append_new_columns',
        'full_refresh': false,
    }) }}
{%- endmacro %}

{#
    Spark tables over Parquet folders, one per table: <directory>/<table>/ becomes
    <schema>.<table>. The preview's way to give Spark a raw layer exported from DuckDB:
    dbt run-operation tierwise_spark_attach_parquet --args '{schema: raw, tables: [orders], directory: /tmp/x}'
#}
{% macro tierwise_spark_attach_parquet(schema, tables, directory) -%}
    {%- do run_query('create schema if not exists ' ~ schema) -%}
    {%- for table in tables -%}
        {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ table) -%}
        {%- do run_query('create table ' ~ schema ~ '.' ~ table ~ " using parquet location '"
            ~ directory ~ '/' ~ table ~ "'") -%}
        {%- do log('attached ' ~ schema ~ '.' ~ table, info=true) -%}
    {%- endfor -%}
{%- endmacro %}
