-- Every version of every service ticket, renamed and cast, one row per
-- (ticket_id, updated_at); re-exports of a version keep the latest load.
-- Incremental: a build recomputes only the keys touched by the loads since the
-- last one (tierwise_rows_to_version), all their versions, from raw; a full
-- build computes the version windows once for every model and test reading them.
{{ config(**tierwise_versions_config(['ticket_id'], 'tickets')) }}

{%- set columns = [
    'ticket_id', 'customer_id', 'opened_at', 'ticket_category',
    'ticket_severity', 'ticket_status', 'resolved_at', 'updated_at',
    'is_complaint',
    'source_file', 'source_line', 'file_checksum', 'file_date', 'loaded_at'
] %}

with source_tickets as (

    select * from {{ source('crm', 'tickets') }}

),

renamed as (

    select
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(opened_at as {{ dbt.type_timestamp() }}) as opened_at,
        lower(category) as ticket_category,
        lower(severity) as ticket_severity,
        lower(status) as ticket_status,
        cast(resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,
        cast(coalesce(updated_at, opened_at) as {{ dbt.type_timestamp() }}) as updated_at,
        lower(category) = 'complaint' as is_complaint,
        _source_file as source_file,
        _source_line as source_line,
        _file_checksum as file_checksum,
        _file_date as file_date,
        _loaded_at as loaded_at
    from source_tickets

),

to_version as (

    {{ tierwise_rows_to_version('renamed', 'tickets', ['ticket_id']) }}

),

versions as (

    {{ tierwise_version_rows('to_version', ['ticket_id'], 'updated_at', columns) }}

)

select * from versions
