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
    {%- set key_list = key_columns | join(', ') -%}
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        {{ version_column }} as valid_from,
        lead({{ version_column }}) over (
            partition by {{ key_list }} order by {{ version_column }}
        ) as valid_to,
        row_number() over (
            partition by {{ key_list }} order by {{ version_column }} desc
        ) = 1 as is_latest_version
    from (
        select
            {%- for column in columns %}
            {{ column }},
            {%- endfor %}
            row_number() over (
                partition by {{ key_list }}, {{ version_column }}
                order by loaded_at desc, source_file desc, source_line desc
            ) as load_rank
        from {{ relation }}
    ) as loads
    where load_rank = 1
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
