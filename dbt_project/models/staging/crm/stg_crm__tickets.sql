-- Current state of every service ticket: the latest version per ticket_id.

with ticket_versions as (

    select * from {{ ref('stg_crm__ticket_versions') }}

),

latest_versions as (

    select
        ticket_id,
        customer_id,
        opened_at,
        ticket_category,
        ticket_severity,
        ticket_status,
        resolved_at,
        updated_at,
        is_complaint,
        source_file,
        source_line,
        file_checksum,
        file_date,
        loaded_at
    from ticket_versions
    where is_latest_version

)

select * from latest_versions
