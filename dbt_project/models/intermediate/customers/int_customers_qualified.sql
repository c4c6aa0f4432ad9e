-- Eligibility for a rated tier at the evaluation date, with the first reason
-- a customer is not eligible (checked in this order): no CRM record, deleted
-- in the CRM, excluded account type, status not allowed, identity not
-- verified, tenure (full months since the relationship started) below the minimum.
-- A customer without a CRM record is ineligible (no_crm_record), unless
-- eligibility_without_crm_record is `eligible`: then the CRM checks do not apply
-- and the relationship starts with the first order.

{%- set without_crm_eligible = var('eligibility_without_crm_record') == 'eligible' %}
{%- set months_crossed = dbt.datediff('customers.started_on', 'evaluation.as_of_date', 'month') %}

with evaluation as (

    select * from {{ ref('int_evaluation_dates_resolved') }}

),

customers as (

    select
        *,
        {%- if without_crm_eligible %}
            case when has_crm_record then signup_date else first_ordered_on end as started_on
        {%- else %}
            signup_date as started_on
        {%- endif %}
    from {{ ref('int_customers_unioned') }}

),

checked as (

    select
        customers.customer_id,
        evaluation.as_of_date,
        customers.has_crm_record,
        customers.account_type,
        customers.contact_status,
        customers.is_verified,
        customers.is_deleted,
        customers.signup_date,
        customers.started_on,
        {{ months_crossed }}
        - case
            when {{ dbt.dateadd('month', months_crossed, 'customers.started_on') }} > evaluation.as_of_date then 1
            else 0
        end as tenure_months,
        {{ dbt.dateadd('month', var('eligibility_min_tenure_months'), 'customers.started_on') }}
        <= evaluation.as_of_date as meets_tenure
    from customers
    cross join evaluation

),

reasoned as (

    select
        *,
        case
            {%- if without_crm_eligible %}
                when not has_crm_record then case when not meets_tenure then 'tenure_below_minimum' end
            {%- else %}
                when not has_crm_record then 'no_crm_record'
            {%- endif %}
            when is_deleted then 'deleted'
            {%- if var('eligibility_excluded_account_types') | length > 0 %}
                when account_type in (
                        {%- for account_type in var('eligibility_excluded_account_types') %}
                            '{{ account_type }}'{{ ',' if not loop.last }}
                        {%- endfor %}
                    ) then 'excluded_account_type'
            {%- endif %}
            when contact_status is null or contact_status not in (
                    {%- for status in var('eligibility_allowed_statuses') %}
                        '{{ status }}'{{ ',' if not loop.last }}
                    {%- endfor %}
                ) then 'status_not_allowed'
            {%- if var('eligibility_require_verified') %}
                when not is_verified then 'not_verified'
            {%- endif %}
            when started_on is null or not meets_tenure then 'tenure_below_minimum'
        end as ineligibility_reason
    from checked

)

select
    customer_id,
    as_of_date,
    has_crm_record,
    account_type,
    contact_status,
    is_verified,
    is_deleted,
    signup_date,
    started_on,
    tenure_months,
    ineligibility_reason,
    ineligibility_reason is null as is_eligible
from reasoned
