-- Customers as of the evaluation date: one row per surviving customer id
-- (CRM contact or order), with the CRM attributes of the surviving contact
-- and eligibility for a rated tier. email and phone are personal data, kept
-- for the CRM sync and tier-change notifications only.

with customers as (

    select * from {{ ref('int_customers_unioned') }}

),

qualified as (

    select * from {{ ref('int_customers_qualified') }}

)

select
    customers.customer_id,
    qualified.as_of_date,
    customers.has_crm_record,
    customers.customer_name,
    customers.email,
    customers.phone,
    customers.account_type,
    customers.industry,
    customers.region,
    customers.country,
    customers.contact_status,
    customers.is_verified,
    customers.is_deleted,
    customers.signup_date,
    qualified.tenure_months,
    customers.merged_contacts_count,
    qualified.is_eligible,
    qualified.ineligibility_reason
from customers
inner join qualified
    on customers.customer_id = qualified.customer_id
