{#
    Generic tests written here because dbt Hub packages are not available.
#}

{# Rows whose combination of columns is not unique. #}
{% test tierwise_unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{# Rows where the expression is false (null counts as a failure unless allowed). #}
{% test tierwise_expression_is_true(model, expression, where_clause=none, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
    {%- if where_clause %}
        and ({{ where_clause }})
    {%- endif %}
{% endtest %}

{# The model has exactly one row for each key of another relation, and no other. #}
{% test tierwise_one_row_per(model, column_name, to, field) %}
    with expected as (
        select distinct {{ field }} as key_value from {{ to }}
    ),

    actual as (
        select {{ column_name }} as key_value, count(*) as occurrences
        from {{ model }}
        group by {{ column_name }}
    )

    select
        coalesce(expected.key_value, actual.key_value) as key_value,
        coalesce(actual.occurrences, 0) as occurrences
    from expected
    full outer join actual
        on expected.key_value = actual.key_value
    where actual.occurrences is null
        or expected.key_value is null
        or actual.occurrences <> 1
{% endtest %}
