{#
    Rule configuration checks. Both raise a compilation error whose message
    names every problem found, so a bad config fails the build before any
    customer is graded:
    - tierwise_validate_vars(): project vars, run as an on-run-start hook;
    - tierwise_validate_tier_ladder(rows): the tier_ladder seed, called by
      int_tier_ladder_validated before anything reads the ladder.
#}

{% macro tierwise_is_fraction(value, allow_zero=false) -%}
    {{ return(value is number and value <= 1 and (value > 0 or (allow_zero and value == 0))) }}
{%- endmacro %}

{% macro tierwise_is_count(value, minimum=0) -%}
    {{ return(value is number and value == value | int and value >= minimum) }}
{%- endmacro %}

{% macro tierwise_check_cutoffs(name, cutoffs, problems) -%}
    {%- if cutoffs is not mapping or 'a' not in cutoffs or 'b' not in cutoffs -%}
        {%- do problems.append("var " ~ name ~ ": expected a mapping {a: ..., b: ...}, got " ~ cutoffs) -%}
    {%- elif not (tierwise_is_fraction(cutoffs.a) and tierwise_is_fraction(cutoffs.b)) -%}
        {%- do problems.append("var " ~ name ~ ": cut-offs must lie in (0, 1], got a=" ~ cutoffs.a ~ ", b=" ~ cutoffs.b) -%}
    {%- elif cutoffs.a >= cutoffs.b -%}
        {%- do problems.append("var " ~ name ~ ": cut-off a must be below b (A comes before B), got a=" ~ cutoffs.a ~ ", b=" ~ cutoffs.b) -%}
    {%- endif -%}
{%- endmacro %}

{% macro tierwise_validate_vars() -%}
    {%- set problems = [] -%}
    {%- set as_of = tierwise_as_of_date() -%}
    {%- if as_of is not none and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of | string) -%}
        {%- do problems.append("var as_of_date: expected an ISO date YYYY-MM-DD, got " ~ as_of) -%}
    {%- endif -%}
    {%- if not tierwise_is_count(var('evaluation_window_months'), 1) -%}
        {%- do problems.append("var evaluation_window_months: expected a whole number >= 1, got " ~ var('evaluation_window_months')) -%}
    {%- endif -%}
    {%- set measures = ['monetary', 'net_revenue', 'historic_clv', 'predicted_clv'] -%}
    {%- if var('tier_measure') not in measures -%}
        {%- do problems.append("var tier_measure: expected one of " ~ measures | join(', ') ~ ", got " ~ var('tier_measure')) -%}
    {%- endif -%}
    {%- if var('abc_method') not in ['share', 'rank'] -%}
        {%- do problems.append("var abc_method: expected share or rank, got " ~ var('abc_method')) -%}
    {%- endif -%}
    {%- do tierwise_check_cutoffs('abc_share_cutoffs', var('abc_share_cutoffs'), problems) -%}
    {%- do tierwise_check_cutoffs('abc_rank_cutoffs', var('abc_rank_cutoffs'), problems) -%}
    {%- for name in ['eligibility_min_tenure_months', 'downgrade_grace_evaluations'] -%}
        {%- if not tierwise_is_count(var(name)) -%}
            {%- do problems.append("var " ~ name ~ ": expected a whole number >= 0, got " ~ var(name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set statuses = var('eligibility_allowed_statuses') -%}
    {%- if statuses is string or statuses is not iterable or statuses | length == 0 -%}
        {%- do problems.append("var eligibility_allowed_statuses: expected a non-empty list of contact statuses, got " ~ statuses) -%}
    {%- endif -%}
    {%- set excluded = var('eligibility_excluded_account_types') -%}
    {%- if excluded is string or excluded is not iterable -%}
        {%- do problems.append("var eligibility_excluded_account_types: expected a list of account types, got " ~ excluded) -%}
    {%- endif -%}
    {%- if var('eligibility_require_verified') not in [true, false] -%}
        {%- do problems.append("var eligibility_require_verified: expected true or false, got " ~ var('eligibility_require_verified')) -%}
    {%- endif -%}
    {%- for name in ['growable_gap_ratio', 'growable_clv_top_share'] -%}
        {%- if not tierwise_is_fraction(var(name), allow_zero=true) -%}
            {%- do problems.append("var " ~ name ~ ": expected a share between 0 and 1, got " ~ var(name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not tierwise_is_count(var('clv_horizon_months'), 1) -%}
        {%- do problems.append("var clv_horizon_months: expected a whole number >= 1, got " ~ var('clv_horizon_months')) -%}
    {%- endif -%}
    {%- set rate = var('clv_annual_discount_rate') -%}
    {%- if not (rate is number and rate >= 0 and rate < 1) -%}
        {%- do problems.append("var clv_annual_discount_rate: expected a rate in [0, 1), got " ~ rate) -%}
    {%- endif -%}
    {%- if not tierwise_is_fraction(var('clv_margin')) -%}
        {%- do problems.append("var clv_margin: expected a margin in (0, 1], got " ~ var('clv_margin')) -%}
    {%- endif -%}
    {%- if problems | length > 0 -%}
        {{ exceptions.raise_compiler_error("Invalid Tierwise rule configuration (dbt vars):\n  - " ~ problems | join("\n  - ")) }}
    {%- endif -%}
    select 1 as tierwise_rule_vars_valid
{%- endmacro %}

{% macro tierwise_validate_tier_ladder(rows) -%}
    {%- set problems = [] -%}
    {%- set unrated = var('unrated_tier_code') -%}
    {%- set codes = rows | map(attribute='tier_code') | list -%}
    {%- set ranks = rows | map(attribute='tier_rank') | list -%}
    {%- if rows | length < 2 -%}
        {%- do problems.append("the ladder needs the " ~ unrated ~ " bottom tier and at least one rated tier") -%}
    {%- endif -%}
    {%- for row in rows -%}
        {%- if row.tier_code is none or row.tier_rank is none or row.min_value is none or row.min_orders is none -%}
            {%- do problems.append("row " ~ loop.index ~ ": tier_code, tier_rank, min_value and min_orders are required") -%}
        {%- elif row.min_value < 0 or row.min_orders < 0 -%}
            {%- do problems.append(row.tier_code ~ ": min_value and min_orders must be >= 0") -%}
        {%- endif -%}
        {%- if codes.count(row.tier_code) > 1 -%}
            {%- do problems.append("tier_code " ~ row.tier_code ~ " appears more than once") -%}
        {%- endif -%}
        {%- if ranks.count(row.tier_rank) > 1 -%}
            {%- do problems.append(row.tier_code ~ ": tier_rank " ~ row.tier_rank ~ " is shared with another tier") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems | length == 0 -%}
        {%- set ordered = rows | sort(attribute='tier_rank') | list -%}
        {%- if ordered[0].tier_code != unrated -%}
            {%- do problems.append("the lowest tier_rank must be the " ~ unrated ~ " tier (var unrated_tier_code), got " ~ ordered[0].tier_code) -%}
        {%- endif -%}
        {%- for row in ordered[2:] -%}
            {%- set below = ordered[loop.index] -%}
            {%- if row.min_value <= below.min_value -%}
                {%- do problems.append("thresholds overlap or are out of order: " ~ row.tier_code ~ " (tier_rank " ~ row.tier_rank ~ ", min_value " ~ row.min_value ~ ") must have a higher min_value than " ~ below.tier_code ~ " (tier_rank " ~ below.tier_rank ~ ", min_value " ~ below.min_value ~ ")") -%}
            {%- endif -%}
            {%- if row.min_orders < below.min_orders -%}
                {%- do problems.append("min_orders out of order: " ~ row.tier_code ~ " (min_orders " ~ row.min_orders ~ ") must not be below " ~ below.tier_code ~ " (min_orders " ~ below.min_orders ~ ")") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if problems | length > 0 -%}
        {{ exceptions.raise_compiler_error("Invalid tier_ladder seed (seeds/tier_ladder.csv):\n  - " ~ problems | join("\n  - ")) }}
    {%- endif -%}
{%- endmacro %}
