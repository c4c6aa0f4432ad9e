-- ABC classes on the tier measure (var tier_measure). Customers are sorted by
-- measure value, highest first; a tie group shares one position, so tied
-- customers always land in the same class.
-- share method: A while the revenue share of everyone ranked before the
--   customer is below abc_share_cutoffs.a, B below .b, C the rest (the
--   customer who crosses a cut-off still belongs to the class it started in);
-- rank method: A while the share of customers ranked before is below
--   abc_rank_cutoffs.a, B below .b, C the rest.
-- Customers with no positive value are C.
{%- set measure = var('tier_measure') %}
{%- set method = var('abc_method') %}
{%- set cutoffs = var('abc_share_cutoffs') if method == 'share' else var('abc_rank_cutoffs') %}

with measured as (

    select * from {{ ref('int_customers_measured') }}

),

predicted as (

    select * from {{ ref('int_customers_predicted') }}

),

measures as (

    select
        measured.customer_id,
        measured.as_of_date,
        '{{ measure }}' as measure_name,
        {%- if measure == 'predicted_clv' %}
            cast(coalesce(predicted.predicted_clv, 0) as decimal(18, 2)) as measure_value,
        {%- else %}
            cast(measured.{{ measure }} as decimal(18, 2)) as measure_value,
        {%- endif %}
        {%- if measure in ['net_revenue', 'historic_clv'] %}
            measured.orders_count as measure_orders,
        {%- else %}
            measured.frequency as measure_orders,
        {%- endif %}
        measured.monetary as window_net_revenue,
        predicted.predicted_clv
    from measured
    left join predicted
        on measured.customer_id = predicted.customer_id

),

totals as (

    select
        sum(measure_value) as total_value,
        count(*) as positive_customers
    from measures
    where measure_value > 0

),

positioned as (

    select
        measures.customer_id,
        measures.measure_value,
        totals.total_value,
        totals.positive_customers,
        sum(measures.measure_value) over (
            order by measures.measure_value desc
            range between unbounded preceding and current row
        ) as value_through_tie_group,
        sum(measures.measure_value) over (partition by measures.measure_value) as tie_group_value,
        rank() over (order by measures.measure_value desc) as value_rank
    from measures
    cross join totals
    where measures.measure_value > 0

),

shares as (

    select
        customer_id,
        value_rank,
        measure_value / total_value as revenue_share,
        value_through_tie_group / total_value as cumulative_share,
        {%- if method == 'share' %}
            (value_through_tie_group - tie_group_value) / total_value as position_before
        {%- else %}
            (value_rank - 1) * 1.0 / positive_customers as position_before
        {%- endif %}
    from positioned

)

select
    measures.customer_id,
    measures.as_of_date,
    measures.measure_name,
    measures.measure_value,
    measures.measure_orders,
    measures.window_net_revenue,
    measures.predicted_clv,
    shares.value_rank,
    cast(coalesce(shares.revenue_share, 0) as {{ dbt.type_float() }}) as revenue_share,
    cast(coalesce(shares.cumulative_share, 1) as {{ dbt.type_float() }}) as cumulative_share,
    '{{ method }}' as abc_method,
    case
        when shares.position_before < {{ cutoffs.a }} then 'A'
        when shares.position_before < {{ cutoffs.b }} then 'B'
        else 'C'
    end as abc_class
from measures
left join shares
    on measures.customer_id = shares.customer_id
