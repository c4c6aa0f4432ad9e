{#
    Version rows of an append-only raw history.

    Raw keeps every version of a key. A version is one (key, version_column)
    pair; when the same version was loaded more than once (a re-export), the
    latest load wins (then the later file and line, so the pick is stable).
    The result holds each version once, with valid_from / valid_to (the next
    version's timestamp) and is_latest_version.

    relation:        a CTE or relation with the renamed columns
    key_columns:     columns of the entity key
    version_column:  column ordering the versions (updated_at)
    columns:         every column to carry through, key and version included
#}
{% macro tierwise_version_rows(relation, key_columns, version_column, columns) -%}
    {%- if adapter.dispatch('tierwise_versions_split_single_rows', 'tierwise')() -%}
    {#- The window sorts every row with all its columns, yet most keys have one row (a
        clean export has one version per key): such a row is its own latest version, with
        no end. Only the rows of keys having several rows go through the window; keys are
        matched null-safe, as the window's partitions group a null key. -#}
    with multi_row_keys as (
        select {{ key_columns | join(', ') }}
        from {{ relation }}
        group by {{ key_columns | join(', ') }}
        having count(*) > 1
    ),

    single_row_keys_rows as (
        select *
        from {{ relation }}
        where not exists ({{ tierwise_multi_row_key_of(relation, key_columns) }})
    ),

    multi_row_keys_rows as (
        select *
        from {{ relation }}
        where exists ({{ tierwise_multi_row_key_of(relation, key_columns) }})
    )

    {{ tierwise_version_columns('single_row_keys_rows', version_column, columns, 'null') }}
    union all
    {{ tierwise_version_window('multi_row_keys_rows', key_columns, version_column, columns) }}
    {%- else -%}
    {{ tierwise_version_window(relation, key_columns, version_column, columns) }}
    {%- endif -%}
{%- endmacro %}

{#- Whether the engine versions single-row keys without the window (macros/spark.sql). -#}
{% macro default__tierwise_versions_split_single_rows() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro tierwise_multi_row_key_of(relation, key_columns) -%}
    select 1
    from multi_row_keys
    where
        {%- for column in key_columns %}
        multi_row_keys.{{ column }} is not distinct from {{ relation }}.{{ column }}{{ ' and' if not loop.last }}
        {%- endfor %}
{%- endmacro %}

{#- The version rows' columns, from a relation with the end of each version. -#}
{% macro tierwise_version_columns(relation, version_column, columns, valid_to) -%}
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        {{ version_column }} as valid_from,
        {{ valid_to }} as valid_to,
        {{ valid_to }} is null as is_latest_version
    from {{ relation }}
{%- endmacro %}

{% macro tierwise_version_window(relation, key_columns, version_column, columns) -%}
    {#- One window pass: ordered by version then load, a row is the winning load of its
        version when the next row starts a later version (or there is none); that next
        row's version is then where this one ends. -#}
    {%- set key_list = key_columns | join(', ') -%}
    {%- set loads -%}
    (
        select
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            lead({{ version_column }}) over (
                partition by {{ key_list }}
                order by {{ version_column }}, loaded_at, source_file, source_line
            ) as next_version_at
        from {{ relation }}
    ) as loads
    {%- endset %}
    {{ tierwise_version_columns(loads, version_column, columns, 'next_version_at') }}
    where next_version_at is null or next_version_at > {{ version_column }}
{%- endmacro %}

{#
    Filter a version relation to the version in force at a cut-off
    (exclusive timestamp): the version that started before it and had not
    been replaced by then.
#}
{% macro tierwise_version_as_of(versions_alias, cutoff_expression) -%}
    {{ versions_alias }}.valid_from < {{ cutoff_expression }}
    and ({{ versions_alias }}.valid_to is null or {{ versions_alias }}.valid_to >= {{ cutoff_expression }})
{%- endmacro %}

{#
    On an incremental run of a version model: keep only the rows of `relation`
    whose key is touched by a load since the model's last build, so the model
    recomputes every version of those keys (and nothing else) from raw.

    A key is touched when a raw row of it was loaded since then, or when the
    model holds a row of it from a file loaded again since then (a re-delivered
    file replaces its rows in raw). New rows are found by their own load time,
    not through the load manifest, so a row that reached raw by another path
    (a hand-made correction, a restore) is versioned too. The watermark is the
    newest load in the model: a load stamps every file of one ingest run with
    its start time (microseconds), and the DAG runs one ingest and build at a
    time, so every later load is strictly newer. Taking the newest load again
    (>=) would re-take a whole first load, every row.
    On a full build the macro returns every row.

    relation:     the renamed CTE (source_file and loaded_at included)
    entity:       the raw entity in ops.load_manifest (orders, contacts, tickets)
    key_columns:  columns of the entity key
#}
{% macro tierwise_rows_to_version(relation, entity, key_columns) -%}
    select * from {{ relation }}
    {%- if is_incremental() %}
    where exists (
        select 1
        from (
            select {{ key_columns | join(', ') }}
            from {{ relation }}
            where loaded_at > ({{ tierwise_last_load_built() }})
            union
            {{ tierwise_keys_of_replaced_versions(relation, entity, key_columns) }}
        ) as touched
        where
            {%- for column in key_columns %}
            touched.{{ column }} = {{ relation }}.{{ column }}{{ ' and' if not loop.last }}
            {%- endfor %}
    )
    {%- endif %}
{%- endmacro %}

{#
    The keys of the model's rows from a file loaded again since its last build. DuckDB
    finds those files in the load manifest; other engines may not have the manifest
    (macros/spark.sql).
#}
{% macro tierwise_keys_of_replaced_versions(relation, entity, key_columns) -%}
    {{- adapter.dispatch('tierwise_keys_of_replaced_versions', 'tierwise')(relation, entity, key_columns) -}}
{%- endmacro %}

{% macro default__tierwise_keys_of_replaced_versions(relation, entity, key_columns) -%}
            select {{ key_columns | join(', ') }}
            from {{ this }}
            where source_file in ({{ tierwise_files_loaded_since_build(entity) }})
{%- endmacro %}

{% macro tierwise_last_load_built() -%}
    select coalesce(max(loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
    from {{ this }}
{%- endmacro %}

{% macro tierwise_files_loaded_since_build(entity) -%}
    select file_path
    from {{ source('ingest', 'load_manifest') }}
    where entity = '{{ entity }}'
        and loaded_at > ({{ tierwise_last_load_built() }})
{%- endmacro %}

{#
    Post-hook of an incremental version model: drop the versions whose raw row
    is gone and whose key has no row left at all (a re-delivered file without
    that record). Keys still in raw were recomputed by the run itself. Only
    files replaced at some time are checked, so the usual run reads nothing.
#}
{% macro tierwise_delete_vanished_versions(entity) -%}
    {{ return(adapter.dispatch('tierwise_delete_vanished_versions', 'tierwise')(entity)) }}
{%- endmacro %}

{% macro default__tierwise_delete_vanished_versions(entity) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as versions
    where versions.source_file in (
        select file_path
        from {{ source('ingest', 'load_manifest') }}
        where entity = '{{ entity }}' and not is_current
    )
        and not exists (
            select 1
            from {{ source(tierwise_raw_source_of(entity), entity) }} as raw_rows
            where raw_rows._source_file = versions.source_file
                and raw_rows._source_line = versions.source_line
                and raw_rows._loaded_at = versions.loaded_at
        )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{% macro tierwise_raw_source_of(entity) -%}
    {{ return({'orders': 'shop', 'contacts': 'crm', 'tickets': 'crm'}[entity]) }}
{%- endmacro %}
