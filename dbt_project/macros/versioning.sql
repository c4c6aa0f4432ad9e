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
    {#- One window pass: ordered by version then load, a row is the winning load of its
        version when the next row starts a later version (or there is none); that next
        row's version is then where this one ends. -#}
    {%- set key_list = key_columns | join(', ') -%}
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        {{ version_column }} as valid_from,
        next_version_at as valid_to,
        next_version_at is null as is_latest_version
    from (
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
