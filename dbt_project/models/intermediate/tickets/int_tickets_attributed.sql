-- Service tickets opened on or before as_of_date, in the version known at the
-- cut-off, attributed to the surviving customer of a merged contact.

with evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

ticket_versions as (

    select * from {{ ref('stg_crm__ticket_versions') }}

),

contacts as (

    select * from {{ ref('int_contacts_resolved') }}

),

tickets_as_of as (

    select ticket_versions.*
    from ticket_versions
    cross join evaluation
    where {{ tierwise_version_as_of('ticket_versions', tierwise_cutoff_at()) }}
        and ticket_versions.opened_at < {{ tierwise_cutoff_at() }}

)

select
    tickets_as_of.ticket_id,
    tickets_as_of.customer_id as opened_by_customer_id,
    tickets_as_of.opened_at,
    cast(tickets_as_of.opened_at as date) as opened_on,
    tickets_as_of.ticket_category,
    tickets_as_of.ticket_severity,
    tickets_as_of.ticket_status,
    tickets_as_of.resolved_at,
    tickets_as_of.is_complaint,
    coalesce(contacts.surviving_customer_id, tickets_as_of.customer_id) as customer_id
from tickets_as_of
left join contacts
    on tickets_as_of.customer_id = contacts.customer_id
