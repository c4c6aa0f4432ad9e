-- The floor of the benchmark: the compared columns of marts.customer_value and
-- marts.customer_tiers, computed straight from the CSV exports in one DuckDB
-- process, with nothing a warehouse run adds (no raw layer, no row checks, no
-- history, no tests, no CLV/RFM). It is the least work that yields the same
-- answer, so pipeline time / floor time is what the pipeline's extras cost.
--
-- It follows the dbt definitions exactly (the bench checks the output against
-- the marts): the version of each record in force at the cut-off (the latest
-- updated_at known by the end of as_of_date, a re-exported version taken from
-- the later file), merge chains of contacts, the contract's net amount, the
-- fx_rates seed, purchases (an order with its split shipments), the share-based
-- ABC classes with tie groups, eligibility and the tier_ladder seed.
--
-- Inputs are DuckDB variables, set by tierwise_dev.bench.floor from dbt_project.yml:
--   data_dir, seeds_dir, as_of_date, window_months, abc_a, abc_b,
--   min_tenure_months, allowed_statuses, excluded_account_types,
--   require_verified, unrated_tier_code
-- By hand: duckdb -c "set variable data_dir = 'data/sample'; ..." < devtools/tierwise_dev/bench/floor.sql
-- Output: tables customer_value and customer_tiers (one row per customer).

create or replace temp table evaluation as
with given as (
    select cast(getvariable('as_of_date') as date) as as_of_date
)

select
    as_of_date,
    cast(as_of_date - to_months(getvariable('window_months')) + interval 1 day as date) as window_start_date,
    cast(as_of_date + interval 1 day as timestamp) as cutoff_at
from given;

-- Contacts as known at the cut-off: the latest version before it.
create or replace temp table contacts_as_of as
with exported as (
    select
        customer_id,
        lower(account_type) as account_type,
        lower(status) as contact_status,
        coalesce(is_verified, false) as is_verified,
        coalesce(is_deleted, false) as is_deleted,
        signup_date,
        updated_at,
        nullif(trim(merged_into), '') as merged_into,
        filename
    from read_csv(
        getvariable('data_dir') || '/contacts/contacts_*.csv',
        header = true,
        filename = true,
        columns = {
            'customer_id': 'varchar', 'customer_name': 'varchar', 'email': 'varchar',
            'phone': 'varchar', 'account_type': 'varchar', 'industry': 'varchar',
            'region': 'varchar', 'country': 'varchar', 'status': 'varchar',
            'is_verified': 'boolean', 'signup_date': 'date', 'updated_at': 'timestamp',
            'is_deleted': 'boolean', 'merged_into': 'varchar'
        }
    )
)

select
    exported.customer_id,
    exported.account_type,
    exported.contact_status,
    exported.is_verified,
    exported.is_deleted,
    exported.signup_date,
    coalesce(exported.merged_into, exported.customer_id) <> exported.customer_id as is_merged,
    case when exported.merged_into <> exported.customer_id then exported.merged_into end
        as merged_into_customer_id
from exported
cross join evaluation
where exported.updated_at < evaluation.cutoff_at
qualify row_number() over (
    partition by exported.customer_id order by exported.updated_at desc, exported.filename desc
) = 1;

-- Merged contacts end up in the last contact of their chain (at most 10 hops);
-- a chain that does not end there (a cycle) keeps its own id.
create or replace temp table contacts_resolved as
with recursive merge_chain as (
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
    where next_contact.is_merged and merge_chain.merge_depth < 10
),

chain_ends as (
    select
        customer_id,
        arg_max(reached_customer_id, merge_depth) as reached_customer_id
    from merge_chain
    group by customer_id
),

survivors as (
    select
        chain_ends.customer_id,
        case
            when reached.is_merged then chain_ends.customer_id
            else chain_ends.reached_customer_id
        end as surviving_customer_id
    from chain_ends
    left join contacts_as_of as reached
        on chain_ends.reached_customer_id = reached.customer_id
)

select
    contacts_as_of.*,
    coalesce(survivors.surviving_customer_id, contacts_as_of.customer_id) as surviving_customer_id
from contacts_as_of
left join survivors
    on contacts_as_of.customer_id = survivors.customer_id;

-- Order lines in the version in force at the cut-off, placed by then, in EUR
-- (rate in force on the order date; before a currency's first rate, its first),
-- rounded to the cent per line as the marts do.
create or replace temp table order_lines as
with fx_rates as (
    select
        currency,
        valid_from,
        rate_to_eur,
        lead(valid_from) over (partition by currency order by valid_from) as valid_to,
        row_number() over (partition by currency order by valid_from) as rate_number
    from read_csv(
        getvariable('seeds_dir') || '/fx_rates.csv',
        header = true,
        columns = {'currency': 'varchar', 'valid_from': 'date', 'rate_to_eur': 'decimal(18, 8)'}
    )
),

exported as (
    select
        order_id,
        coalesce(line_no, 1) as line_no,
        customer_id,
        ordered_at,
        lower(status) as order_status,
        upper(currency) as currency_code,
        gross_amount,
        coalesce(discount_amount, 0) as discount_amount,
        coalesce(refunded_amount, 0) as refunded_amount,
        nullif(trim(parent_order_id), '') as parent_order_id,
        coalesce(updated_at, ordered_at) as updated_at,
        filename
    from read_csv(
        getvariable('data_dir') || '/orders/orders_*.csv',
        header = true,
        filename = true,
        columns = {
            'order_id': 'varchar', 'line_no': 'integer', 'customer_id': 'varchar',
            'ordered_at': 'timestamp', 'status': 'varchar', 'currency': 'varchar',
            'gross_amount': 'decimal(18, 2)', 'discount_amount': 'decimal(18, 2)',
            'refunded_amount': 'decimal(18, 2)', 'payment_method': 'varchar',
            'parent_order_id': 'varchar', 'updated_at': 'timestamp'
        }
    )
),

current_versions as (
    select exported.*
    from exported
    cross join evaluation
    where exported.updated_at < evaluation.cutoff_at
    qualify row_number() over (
        partition by exported.order_id, exported.line_no
        order by exported.updated_at desc, exported.filename desc
    ) = 1
),

priced as (
    select
        current_versions.customer_id,
        coalesce(current_versions.parent_order_id, current_versions.order_id) as purchase_id,
        current_versions.ordered_at,
        case
            when current_versions.order_status = 'cancelled' then cast(0 as decimal(18, 2))
            else
                current_versions.gross_amount
                - current_versions.discount_amount
                - current_versions.refunded_amount
        end * coalesce(dated_rate.rate_to_eur, first_rate.rate_to_eur) as net_amount_eur_exact
    from current_versions
    cross join evaluation
    left join fx_rates as dated_rate
        on current_versions.currency_code = dated_rate.currency
            and cast(current_versions.ordered_at as date) >= dated_rate.valid_from
            and (dated_rate.valid_to is null or cast(current_versions.ordered_at as date) < dated_rate.valid_to)
    left join fx_rates as first_rate
        on current_versions.currency_code = first_rate.currency
            and first_rate.rate_number = 1
    where current_versions.ordered_at < evaluation.cutoff_at
)

select
    coalesce(contacts_resolved.surviving_customer_id, priced.customer_id) as customer_id,
    priced.purchase_id,
    priced.ordered_at,
    cast(priced.net_amount_eur_exact as decimal(18, 2)) as net_amount_eur
from priced
left join contacts_resolved
    on priced.customer_id = contacts_resolved.customer_id;

create or replace temp table customer_value as
with purchases as (
    select
        customer_id,
        min(ordered_at) as purchased_at,
        sum(net_amount_eur) as net_amount_eur
    from order_lines
    group by customer_id, purchase_id
),

per_customer as (
    select
        purchases.customer_id,
        sum(purchases.net_amount_eur) as net_revenue,
        count(*) filter (where purchases.net_amount_eur > 0) as orders_count,
        max(purchases.purchased_at) filter (where purchases.net_amount_eur > 0) as last_order_at,
        coalesce(
            sum(purchases.net_amount_eur) filter (
                where cast(purchases.purchased_at as date) >= evaluation.window_start_date
            ),
            0
        ) as monetary,
        count(*) filter (
            where purchases.net_amount_eur > 0
            and cast(purchases.purchased_at as date) >= evaluation.window_start_date
        ) as frequency
    from purchases
    cross join evaluation
    group by purchases.customer_id
),

customer_ids as (
    select surviving_customer_id as customer_id from contacts_resolved
    union
    select customer_id from order_lines
)

select
    customer_ids.customer_id,
    coalesce(per_customer.orders_count, 0) as orders_count,
    cast(coalesce(per_customer.net_revenue, 0) as decimal(18, 2)) as net_revenue,
    cast(coalesce(per_customer.monetary, 0) as decimal(18, 2)) as monetary,
    coalesce(per_customer.frequency, 0) as frequency,
    date_diff('day', cast(per_customer.last_order_at as date), evaluation.as_of_date) as recency_days
from customer_ids
cross join evaluation
left join per_customer
    on customer_ids.customer_id = per_customer.customer_id;

create or replace temp table customer_tiers as
with own_contacts as (
    select *
    from contacts_resolved
    where customer_id = surviving_customer_id
),

qualified as (
    select
        customer_value.customer_id,
        own_contacts.customer_id is not null
        and not own_contacts.is_deleted
        and not coalesce(list_contains(getvariable('excluded_account_types'), own_contacts.account_type), false)
        and coalesce(list_contains(getvariable('allowed_statuses'), own_contacts.contact_status), false)
        and (own_contacts.is_verified or not getvariable('require_verified'))
        and coalesce(
            own_contacts.signup_date + to_months(getvariable('min_tenure_months')) <= evaluation.as_of_date,
            false
        ) as is_eligible
    from customer_value
    cross join evaluation
    left join own_contacts
        on customer_value.customer_id = own_contacts.customer_id
),

-- Customers tied on the measure share one position: the value of everyone
-- ranked strictly before the tie group, as a share of all positive value.
tie_groups as (
    select
        monetary as measure_value,
        sum(monetary) as group_value
    from customer_value
    where monetary > 0
    group by monetary
),

positions as (
    select
        measure_value,
        (sum(group_value) over (order by measure_value desc rows unbounded preceding) - group_value)
        / sum(group_value) over () as position_before
    from tie_groups
),

ladder as (
    select
        tier_code,
        tier_rank,
        min_value,
        min_orders
    from read_csv(
        getvariable('seeds_dir') || '/tier_ladder.csv',
        header = true,
        columns = {
            'tier_code': 'varchar', 'tier_name': 'varchar', 'tier_rank': 'integer',
            'min_value': 'decimal(18, 2)', 'min_orders': 'integer'
        }
    )
),

reached as (
    select
        customer_value.customer_id,
        arg_max(ladder.tier_code, ladder.tier_rank) as tier_code
    from customer_value
    inner join qualified
        on customer_value.customer_id = qualified.customer_id
    inner join ladder
        on customer_value.monetary >= ladder.min_value
            and customer_value.frequency >= ladder.min_orders
    where qualified.is_eligible
        and ladder.tier_code <> getvariable('unrated_tier_code')
    group by customer_value.customer_id
)

select
    customer_value.customer_id,
    case
        when positions.position_before < getvariable('abc_a') then 'A'
        when positions.position_before < getvariable('abc_b') then 'B'
        else 'C'
    end as abc_class,
    coalesce(reached.tier_code, getvariable('unrated_tier_code')) as tier_code,
    qualified.is_eligible
from customer_value
inner join qualified
    on customer_value.customer_id = qualified.customer_id
left join positions
    on customer_value.monetary = positions.measure_value
left join reached
    on customer_value.customer_id = reached.customer_id;
