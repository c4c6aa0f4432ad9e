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

{% macro spark__tierwise_tier_ladder_from_file(path) -%}
    {{ exceptions.raise_compiler_error("var tier_ladder_file is not supported on Spark yet (issue 18): edit seeds/tier_ladder.csv") }}
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
    Incremental settings per engine, by var spark_table_format. Spark's Parquet tables
    (the default) have no row-level delete or merge: the version models are plain
    tables there, rebuilt whole. With delta or iceberg (a cluster that has the format's
    jars and catalog configured) they are incremental as on DuckDB: the versions of the
    touched keys are merged on key and valid_from, and the post-hook deletes the
    versions whose raw row is gone (a re-delivered file without them), which together
    does what DuckDB's delete+insert on the key does. The tier history overwrites its
    month's partition in every format (insert_overwrite with Spark's dynamic partition
    overwrite mode): a merge on history_key would keep a customer who left the month.
#}
{% macro tierwise_spark_row_level() -%}
    {{ return(var('spark_table_format') in ['delta', 'iceberg']) }}
{%- endmacro %}

{% macro spark__tierwise_versions_config(unique_key, entity) -%}
    {%- if not tierwise_spark_row_level() -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'merge',
        'unique_key': unique_key + ['valid_from'],
        'on_schema_change': 'fail',
        'post_hook': "{{ tierwise_delete_vanished_versions('" ~ entity ~ "') }}",
    }) }}
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
    The load manifest stays in the DuckDB ledger, not in Spark: a row of the model whose
    raw row (file, line, load) is gone was replaced by a later load of its file, which
    finds the same keys as the manifest's files loaded since the build (and a file
    re-delivered empty as well).
#}
{% macro spark__tierwise_keys_of_replaced_versions(relation, entity, key_columns) -%}
            select {{ key_columns | join(', ') }}
            from {{ this }} as built
            where not exists (
                select 1
                from {{ relation }} as current_rows
                where current_rows.source_file = built.source_file
                    and current_rows.source_line = built.source_line
                    and current_rows.loaded_at = built.loaded_at
            )
{%- endmacro %}

{#- A merge that deletes, not DELETE ... WHERE NOT EXISTS: Delta Lake outside Databricks
    takes no subquery in a DELETE condition; MERGE takes any source, in Delta and Iceberg. -#}
{% macro spark__tierwise_delete_vanished_versions(entity) -%}
    {%- if is_incremental() -%}
    merge into {{ this }} as versions
    using (
        select built.source_file, built.source_line, built.loaded_at
        from {{ this }} as built
        left anti join {{ source(tierwise_raw_source_of(entity), entity) }} as raw_rows
            on raw_rows._source_file = built.source_file
            and raw_rows._source_line = built.source_line
            and raw_rows._loaded_at = built.loaded_at
    ) as vanished
    on versions.source_file = vanished.source_file
        and versions.source_line = vanished.source_line
        and versions.loaded_at = vanished.loaded_at
    when matched then delete
    {%- else -%}
    select 1
    {%- endif -%}
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

{#- Spark keeps the one window over every row (macros/versioning.sql): versioning the
    single-row keys apart is a shortcut measured on DuckDB only. -#}
{% macro spark__tierwise_versions_split_single_rows() -%}
    {{ return(false) }}
{%- endmacro %}
