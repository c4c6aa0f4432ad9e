{#
    The pipeline skips a build whose inputs are unchanged since the last one it
    recorded in ops.build_state (plugins/tierwise/build_state.py). A run that
    writes is about to change what that record describes, so it forgets it
    first: an empty row, newest, means "no valid build". This is the last
    on-run-start hook, after the rule checks: a rejected config writes nothing,
    not even this row. The row carries the pipeline's run id (env var
    TIERWISE_RUN_ID, read only when the hook runs, so it never forces a re-parse).
#}
{% macro tierwise_forget_build_state() -%}
    {%- if execute and flags.WHICH in ['build', 'run', 'seed', 'snapshot'] -%}
        {%- set state = adapter.get_relation(database=target.database, schema='ops', identifier='build_state') -%}
        {%- if state is not none -%}
            {%- call statement('tierwise_forget_build_state') -%}
                insert into {{ state }} (run_id, built_at)
                values ('{{ env_var("TIERWISE_RUN_ID", "dbt " ~ invocation_id) }}', timezone('UTC', now()))
            {%- endcall -%}
        {%- endif -%}
        {#- dbt rolls back what is left open after the hooks (they run outside a transaction). -#}
        {%- do adapter.commit() -%}
    {%- endif -%}
    select 1 as tierwise_build_state_forgotten
{%- endmacro %}
