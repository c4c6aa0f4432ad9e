-- R/F/M quintile scores (1 = lowest, 5 = best) among customers with at least
-- one purchase, and the RFM segment from the rfm_segments seed (first match by
-- priority on r_score and fm_score, the rounded-up mean of f and m). Ties get
-- the same score: scores come from percent_rank, not from row numbers.

with measured as (

    select * from {{ ref('int_customers_measured') }}

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

ranked as (

    select
        customer_id,
        percent_rank() over (order by recency_days desc) as recency_rank,
        percent_rank() over (order by frequency) as frequency_rank,
        percent_rank() over (order by monetary) as monetary_rank
    from measured
    where orders_count > 0

),

scored as (

    select
        customer_id,
        cast(case when recency_rank >= 0.8 then 5 else floor(recency_rank * 5) + 1 end as {{ dbt.type_int() }})
            as r_score,
        cast(case when frequency_rank >= 0.8 then 5 else floor(frequency_rank * 5) + 1 end as {{ dbt.type_int() }})
            as f_score,
        cast(case when monetary_rank >= 0.8 then 5 else floor(monetary_rank * 5) + 1 end as {{ dbt.type_int() }})
            as m_score
    from ranked

),

with_fm as (

    select
        scored.*,
        cast(floor((scored.f_score + scored.m_score + 1) / 2.0) as {{ dbt.type_int() }}) as fm_score
    from scored

),

matched as (

    select
        with_fm.customer_id,
        segments.segment_code,
        row_number() over (partition by with_fm.customer_id order by segments.priority) as match_rank
    from with_fm
    inner join segments
        on with_fm.r_score between segments.r_min and segments.r_max
            and with_fm.fm_score between segments.fm_min and segments.fm_max

)

select
    measured.customer_id,
    with_fm.r_score,
    with_fm.f_score,
    with_fm.m_score,
    with_fm.fm_score,
    with_fm.r_score * 100 + with_fm.f_score * 10 + with_fm.m_score as rfm_cell,
    case
        when measured.orders_count = 0 then '{{ var("rfm_no_purchase_segment") }}'
        else matched.segment_code
    end as rfm_segment
from measured
left join with_fm
    on measured.customer_id = with_fm.customer_id
left join matched
    on measured.customer_id = matched.customer_id
        and matched.match_rank = 1
