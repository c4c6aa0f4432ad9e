-- Every customer of the evaluation: the surviving customer ids of all CRM
-- contacts and of all orders known at the cut-off, with the survivor's own CRM
-- record (has_crm_record is false for order-only customers).

with contacts as (

    select * from {{ ref('int_contacts_resolved') }}

),

orders as (

    select * from {{ ref('int_orders_converted') }}

),

-- The first order date rides along with the ids: a customer without a CRM record
-- starts the relationship with it (eligibility_without_crm_record: eligible).
customer_ids as (

    select
        customer_id,
        min(first_ordered_on) as first_ordered_on
    from (
        select
            surviving_customer_id as customer_id,
            cast(null as date) as first_ordered_on
        from contacts
        union all
        select
            customer_id,
            min(ordered_on) as first_ordered_on
        from orders
        group by customer_id
    ) as ids
    group by customer_id

),

survivor_contacts as (

    select *
    from contacts
    where customer_id = surviving_customer_id

),

merged_contacts as (

    select
        surviving_customer_id as customer_id,
        count(*) as merged_contacts_count
    from contacts
    where customer_id <> surviving_customer_id
    group by surviving_customer_id

)

select
    customer_ids.customer_id,
    survivor_contacts.customer_name,
    survivor_contacts.email,
    survivor_contacts.phone,
    survivor_contacts.account_type,
    survivor_contacts.industry,
    survivor_contacts.region,
    survivor_contacts.country,
    survivor_contacts.contact_status,
    survivor_contacts.signup_date,
    customer_ids.first_ordered_on,
    survivor_contacts.customer_id is not null as has_crm_record,
    coalesce(survivor_contacts.is_verified, false) as is_verified,
    coalesce(survivor_contacts.is_deleted, false) as is_deleted,
    coalesce(merged_contacts.merged_contacts_count, 0) as merged_contacts_count
from customer_ids
left join survivor_contacts
    on customer_ids.customer_id = survivor_contacts.customer_id
left join merged_contacts
    on customer_ids.customer_id = merged_contacts.customer_id
