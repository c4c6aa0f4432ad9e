-- The rates every amount is converted to EUR with: the fx_rates seed, merged
-- with the rates file of var fx_rates_file (a currency the file lists takes all
-- its rates from the file). Both files were checked by the on-run-start hook
-- tierwise_validate_fx_rates before anything was built (ISO 4217 codes, dates,
-- positive rates, EUR at 1, one rate per currency and valid_from). A rate is in
-- force from valid_from until the currency's next valid_from.
{%- set rates_file = tierwise_fx_rates_file() %}

with seed_rates as (

    select
        currency,
        valid_from,
        rate_to_eur,
        'seeds/fx_rates.csv' as rate_source
    from {{ ref('fx_rates') }}

),

file_rates as (

    {%- if rates_file %}
        select
            upper(trim(currency)) as currency,
            cast(strptime(trim(valid_from), '%Y-%m-%d') as date) as valid_from,
            cast(cast(trim(rate_to_eur) as decimal(38, 18)) as decimal(18, 8)) as rate_to_eur,
            {{ tierwise_sql_text(rates_file) }} as rate_source
        from {{ tierwise_read_fx_rates_file(rates_file) }}
    {%- else %}
        select
            currency,
            valid_from,
            rate_to_eur,
            rate_source
        from seed_rates
        where false
    {%- endif %}

),

merged as (

    select * from file_rates
    union all
    select * from seed_rates
    where currency not in (select file_rates.currency from file_rates)

)

select
    currency,
    valid_from,
    rate_to_eur,
    rate_source,
    lead(valid_from) over (partition by currency order by valid_from) as valid_to
from merged
