-- Current state of every CRM contact: the latest version per customer_id, by
-- updated_at, then load time. Deleted and merged contacts stay, flagged.

with contact_versions as (

    select * from {{ ref('stg_crm__contact_versions') }}

),

latest_versions as (

    select
        customer_id,
        customer_name,
        email,
        phone,
        account_type,
        industry,
        region,
        country,
        contact_status,
        is_verified,
        signup_date,
        updated_at,
        is_deleted,
        is_merged,
        merged_into_customer_id,
        source_file,
        source_line,
        file_checksum,
        file_date,
        loaded_at
    from contact_versions
    where is_latest_version

)

select * from latest_versions
