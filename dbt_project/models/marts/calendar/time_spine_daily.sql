-- One row per day: the time spine of the semantic layer. MetricFlow joins to it
-- for metric_time at day and coarser grains, cumulative metrics and empty
-- periods (docs/semantic-layer.md). The range only has to cover the dates the
-- marts hold; a fixed one keeps the model free of any read of the data, so it
-- builds the same on every engine and never needs rebuilding.

with days as (

    {{ dbt.date_spine("day", "cast('2000-01-01' as date)", "cast('2040-12-31' as date)") }}

)

select cast(days.date_day as date) as date_day
from days
