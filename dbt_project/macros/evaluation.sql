{#
    The evaluation date of this build: var as_of_date when given on the command
    line, else env var TIERWISE_AS_OF_DATE (what the pipeline sets), else none.
    The pipeline uses the environment because a changed --vars makes dbt re-parse
    the whole project, while a changed env var re-parses only the files reading it.
#}
{% macro tierwise_as_of_date() -%}
    {{- return(var('as_of_date', none) or env_var('TIERWISE_AS_OF_DATE', '') or none) -}}
{%- endmacro %}

{#
    The cut-off (exclusive) of this build's evaluation as an expression. When the
    date is known at compile time it is a literal: DuckDB then estimates the row
    filters on the 10M-row version tables correctly, whereas a comparison with
    the joined evaluation row is estimated at a few rows, which puts the order
    lines on the build side of the hash joins (2 to 3 times slower, and out of
    memory at 10M orders; BENCHMARKS.md). Otherwise the evaluation row's column.
#}
{% macro tierwise_cutoff_at(evaluation_alias='evaluation') -%}
    {%- set as_of = tierwise_as_of_date() -%}
    {%- if as_of -%}
        {%- set cutoff = modules.datetime.date.fromisoformat(as_of | string) + modules.datetime.timedelta(days=1) -%}
        cast('{{ cutoff.isoformat() }} 00:00:00' as {{ dbt.type_timestamp() }})
    {%- else -%}
        {{ evaluation_alias }}.cutoff_at
    {%- endif -%}
{%- endmacro %}
