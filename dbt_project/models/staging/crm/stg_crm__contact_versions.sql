-- Every version of every CRM contact, renamed and cast, one row per
-- (customer_id, updated_at); re-exports of a version keep the latest load.
-- Incremental: a build recomputes only the keys touched by the loads since the
-- last one (tierwise_rows_to_version), all their versions, from raw; a full
-- build computes the version windows once for every model and test reading them.
{{ config(**tierwise_versions_config(['customer_id'], 'contacts')) }}

{%- set columns = [
    'customer_id', 'customer_name', 'email', 'phone', 'account_type',
    'industry', 'region', 'country', 'contact_status', 'is_verified',
    'signup_date', 'updated_at', 'is_deleted', 'is_merged',
    'merged_into_customer_id',
    'source_file', 'source_line', 'file_checksum', 'file_date', 'loaded_at'
] %}

with source_contacts as (

    select * from {{ source('crm', 'contacts') }}

),

renamed as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        customer_name,
        lower(trim(email)) as email,
        phone,
        lower(account_type) as account_type,
        industry,
        region,
        country,
        lower(status) as contact_status,
        coalesce(is_verified, false) as is_verified,
        cast(signup_date as date) as signup_date,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        coalesce(is_deleted, false) as is_deleted,
        coalesce(nullif(trim(merged_into), ''), customer_id) <> customer_id as is_merged,
        case
            when nullif(trim(merged_into), '') <> customer_id then trim(merged_into)
        end as merged_into_customer_id,
        _source_file as source_file,
        _source_line as source_line,
        _file_checksum as file_checksum,
        _file_date as file_date,
        _loaded_at as loaded_at
    from source_contacts

),

to_version as (

    {{ tierwise_rows_to_version('renamed', 'contacts', ['customer_id']) }}

),

versions as (

    {{ tierwise_version_rows('to_version', ['customer_id'], 'updated_at', columns) }}

)

select * from versions
