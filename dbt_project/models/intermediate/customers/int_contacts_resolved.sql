-- CRM contacts as known at the evaluation cut-off (the version in force then),
-- with merge chains resolved: surviving_customer_id is the customer a merged
-- contact ended up in (A merged into B merged into C -> C). A chain that does
-- not end (a cycle, or deeper than the search limit) keeps its own id.
{%- set max_merge_depth = 10 %}

with recursive evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

contact_versions as (

    select * from {{ ref('stg_crm__contact_versions') }}

),

contacts_as_of as (

    select contact_versions.*
    from contact_versions
    cross join evaluation
    where {{ tierwise_version_as_of('contact_versions', tierwise_cutoff_at()) }}

),

merge_chain as (

    select
        customer_id,
        merged_into_customer_id as reached_customer_id,
        1 as merge_depth
    from contacts_as_of
    where is_merged

    union all

    select
        merge_chain.customer_id,
        next_contact.merged_into_customer_id as reached_customer_id,
        merge_chain.merge_depth + 1 as merge_depth
    from merge_chain
    inner join contacts_as_of as next_contact
        on merge_chain.reached_customer_id = next_contact.customer_id
    where next_contact.is_merged
        and merge_chain.merge_depth < {{ max_merge_depth }}

),

chain_ends as (

    select
        customer_id,
        reached_customer_id,
        merge_depth,
        row_number() over (partition by customer_id order by merge_depth desc) as depth_rank
    from merge_chain

),

survivors as (

    select
        chain_ends.customer_id,
        chain_ends.merge_depth,
        case
            when reached_contact.is_merged then chain_ends.customer_id
            else chain_ends.reached_customer_id
        end as surviving_customer_id
    from chain_ends
    left join contacts_as_of as reached_contact
        on chain_ends.reached_customer_id = reached_contact.customer_id
    where chain_ends.depth_rank = 1

)

select
    contacts_as_of.customer_id,
    contacts_as_of.is_merged,
    contacts_as_of.merged_into_customer_id,
    contacts_as_of.customer_name,
    contacts_as_of.email,
    contacts_as_of.phone,
    contacts_as_of.account_type,
    contacts_as_of.industry,
    contacts_as_of.region,
    contacts_as_of.country,
    contacts_as_of.contact_status,
    contacts_as_of.is_verified,
    contacts_as_of.is_deleted,
    contacts_as_of.signup_date,
    contacts_as_of.updated_at as contact_updated_at,
    coalesce(survivors.surviving_customer_id, contacts_as_of.customer_id) as surviving_customer_id,
    coalesce(survivors.merge_depth, 0) as merge_depth
from contacts_as_of
left join survivors
    on contacts_as_of.customer_id = survivors.customer_id
