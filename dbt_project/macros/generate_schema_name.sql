{#
    Models land in exactly the schema set per folder in dbt_project.yml
    (staging, intermediate, marts), without the target schema as a prefix.
    Nodes without a custom schema fall back to the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
