{#
    Rule configuration checks, run as on-run-start hooks: a bad config stops
    the run before the first seed is loaded or model built, with a compilation
    error whose message names every problem found.
    - tierwise_validate_vars(): project vars;
    - tierwise_validate_seeds(): the rule seeds tier_ladder and rfm_segments,
      read from their CSV files as dbt will load them (the ladder from the
      file of var tier_ladder_file when set);
    - tierwise_validate_fx_rates(tierwise_seed_csv('fx_rates')) (macros/fx_rates.sql):
      the fx_rates seed's file and the rates file of var fx_rates_file.
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
    {%- if var('evaluation_window_months') != 'all' and not tierwise_is_count(var('evaluation_window_months'), 1) -%}
        {%- do problems.append("var evaluation_window_months: expected a whole number >= 1 or all (the whole history), got " ~ var('evaluation_window_months')) -%}
    {%- endif -%}
    {%- set measures = ['monetary', 'net_revenue', 'historic_clv', 'predicted_clv'] -%}
    {%- if var('tier_measure') not in measures -%}
        {%- do problems.append("var tier_measure: expected one of " ~ measures | join(', ') ~ ", got " ~ var('tier_measure')) -%}
    {%- endif -%}
    {%- if var('abc_method') not in ['share', 'rank'] -%}
        {%- do problems.append("var abc_method: expected share or rank, got " ~ var('abc_method')) -%}
    {%- endif -%}
    {%- if var('spark_table_format') not in ['parquet', 'delta', 'iceberg'] -%}
        {%- do problems.append("var spark_table_format: expected parquet, delta or iceberg, got " ~ var('spark_table_format')) -%}
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
    {%- if var('eligibility_without_crm_record') not in ['ineligible', 'eligible'] -%}
        {%- do problems.append("var eligibility_without_crm_record: expected ineligible or eligible, got " ~ var('eligibility_without_crm_record')) -%}
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

{#
    The rule seeds, checked from their CSV files before dbt loads any of them.
    Each seed's CSV is read as dbt will load it (header, delimiter, the seed's
    column_types) by DuckDB's read_csv, which writes nothing; then the rules the
    models rely on are checked. The tier_ladder, fx_rates and rfm_segments
    descriptions in seeds/_seeds__seeds.yml state the same rules.
#}

{% macro tierwise_seed_node(seed_name) -%}
    {{- return(graph.nodes.values() | selectattr('resource_type', 'equalto', 'seed')
        | selectattr('package_name', 'equalto', project_name)
        | selectattr('name', 'equalto', seed_name) | first) -}}
{%- endmacro %}

{% macro tierwise_seed_csv(seed_name) -%}
    {#- A seed's CSV file as a relation of text columns, read as dbt will load it (header,
        delimiter); none while dbt parses, when the graph is not there yet. -#}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set node = tierwise_seed_node(seed_name) -%}
    {%- set file = tierwise_seed_file(node) | replace("'", "''") -%}
    {{- return(tierwise_csv_relation(file, node.config.delimiter or ',')) -}}
{%- endmacro %}

{#- The ladder file var tier_ladder_file names (a proposed ladder: tierwise simulate), or none. -#}
{% macro tierwise_tier_ladder_file() -%}
    {%- set path = var('tier_ladder_file', none) -%}
    {{ return((path | string | trim) if path else none) }}
{%- endmacro %}

{% macro tierwise_seed_file(node) -%}
    {#- The CSV file a rule seed's rules come from: for the ladder, the file of var
        tier_ladder_file when set; else the seed's own file. -#}
    {%- set given = tierwise_tier_ladder_file() if node.name == 'tier_ladder' else none -%}
    {{- return(given or (node.root_path ~ '/' ~ node.original_file_path)) -}}
{%- endmacro %}

{% macro tierwise_seed_label(node) -%}
    {#- How a message names where a rule seed's rules come from. -#}
    {%- if node.name == 'tier_ladder' and tierwise_tier_ladder_file() -%}
        {{- return("tier_ladder file " ~ tierwise_tier_ladder_file() ~ ", var tier_ladder_file") -}}
    {%- endif -%}
    {{- return(node.name ~ " seed (" ~ node.original_file_path ~ ")") -}}
{%- endmacro %}

{% macro tierwise_tier_ladder_from_file(path) -%}
    {#- The ladder file typed as the tier_ladder seed is (its column_types), for
        int_tier_ladder_validated; the file was checked by tierwise_validate_seeds. -#}
    {{ return(adapter.dispatch('tierwise_tier_ladder_from_file', 'tierwise')(path)) }}
{%- endmacro %}

{% macro default__tierwise_tier_ladder_from_file(path) -%}
    {%- set types = tierwise_seed_node('tier_ladder').config.column_types if execute else {} -%}
    (
        select
        {%- for column, type in types.items() %}
            cast({{ adapter.quote(column) }} as {{ type }}) as {{ adapter.quote(column) }}{{ "," if not loop.last }}
        {%- else %} *
        {%- endfor %}
        from {{ tierwise_csv_relation(path | replace("'", "''"), ',') }}
    )
{%- endmacro %}

{% macro tierwise_seed_rows(node, problems) -%}
    {#- The seed's rows typed with its column_types; a missing column or a value that does not
        convert is added to problems (the value is null in the rows returned). -#}
    {%- set source = tierwise_seed_csv(node.name) -%}
    {%- set found = run_query('select * from ' ~ source ~ ' limit 0').column_names -%}
    {%- set types = node.config.column_types -%}
    {%- set missing = types.keys() | reject('in', found) | list -%}
    {%- if missing | length > 0 -%}
        {%- do problems.append("missing column(s) " ~ missing | join(', ') ~ "; the header has " ~ found | join(', ')) -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set typed -%}
        select
        {%- for column, type in types.items() %}
            {{ adapter.quote(column) }} as {{ adapter.quote(column ~ '__text') }},
            try_cast({{ adapter.quote(column) }} as {{ type }}) as {{ adapter.quote(column) }}{{ "," if not loop.last }}
        {%- endfor %}
        from {{ source }}
    {%- endset -%}
    {%- set rows = run_query(typed).rows -%}
    {%- set key = types.keys() | first -%}
    {%- for row in rows -%}
        {%- for column, type in types.items() if row[column] is none and row[column ~ '__text'] is not none -%}
            {%- do problems.append(key ~ " " ~ row[key ~ '__text'] ~ ": " ~ column ~ " '"
                ~ row[column ~ '__text'] ~ "' is not a " ~ type) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(rows) -}}
{%- endmacro %}

{% macro tierwise_check_required(rows, columns, problems) -%}
    {%- for row in rows -%}
        {%- set empty = [] -%}
        {%- for column in columns if row[column ~ '__text'] is none -%}
            {%- do empty.append(column) -%}
        {%- endfor -%}
        {%- if empty | length > 0 -%}
            {%- do problems.append("row " ~ loop.index ~ " (" ~ columns[0] ~ " " ~ row[columns[0]] ~ "): "
                ~ empty | join(', ') ~ " must not be empty") -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro tierwise_check_unique(rows, columns, problems) -%}
    {%- set seen = [] -%}
    {%- for row in rows -%}
        {%- set values = [] -%}
        {%- for column in columns -%}
            {%- do values.append(row[column] | string) -%}
        {%- endfor -%}
        {%- set value = values | join(' ') -%}
        {%- if seen.count(value) == 1 -%}
            {%- do problems.append(columns | join(', ') ~ " " ~ value ~ " appears more than once") -%}
        {%- endif -%}
        {%- do seen.append(value) -%}
    {%- endfor -%}
{%- endmacro %}

{% macro tierwise_tier_ladder_problems(rows, problems) -%}
    {%- set unrated = var('unrated_tier_code') -%}
    {%- do tierwise_check_required(rows, ['tier_code', 'tier_rank', 'min_value', 'min_orders'], problems) -%}
    {%- do tierwise_check_unique(rows, ['tier_code'], problems) -%}
    {%- do tierwise_check_unique(rows, ['tier_rank'], problems) -%}
    {%- if rows | length < 2 -%}
        {%- do problems.append("the ladder needs the " ~ unrated ~ " bottom tier and at least one rated tier") -%}
    {%- endif -%}
    {%- for row in rows if row.min_value is not none and row.min_orders is not none -%}
        {%- if row.min_value < 0 or row.min_orders < 0 -%}
            {%- do problems.append(row.tier_code ~ ": min_value and min_orders must be >= 0") -%}
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
{%- endmacro %}

{% macro tierwise_rfm_segments_problems(rows, problems) -%}
    {#- Scores are quintiles 1-5 (int_customers_scored); every (r_score, fm_score) pair needs a segment. -#}
    {%- set bounds = ['r_min', 'r_max', 'fm_min', 'fm_max'] -%}
    {%- do tierwise_check_required(rows, ['segment_code', 'priority'] + bounds, problems) -%}
    {%- do tierwise_check_unique(rows, ['segment_code'], problems) -%}
    {%- do tierwise_check_unique(rows, ['priority'], problems) -%}
    {%- set valid = [] -%}
    {%- for row in rows -%}
        {%- for low, high in [('r_min', 'r_max'), ('fm_min', 'fm_max')] if row[low] is not none and row[high] is not none -%}
            {%- if row[low] > row[high] -%}
                {%- do problems.append(row.segment_code ~ ": " ~ low ~ " " ~ row[low] ~ " is above " ~ high ~ " " ~ row[high]) -%}
            {%- elif row[low] < 1 or row[high] > 5 -%}
                {%- do problems.append(row.segment_code ~ ": " ~ low ~ " and " ~ high ~ " must lie in 1-5 (scores are quintiles), got " ~ row[low] ~ "-" ~ row[high]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if problems | length == 0 -%}
        {%- set uncovered = [] -%}
        {%- for r_score in range(1, 6) -%}
            {%- for fm_score in range(1, 6) -%}
                {%- set covering = rows | selectattr('r_min', 'le', r_score) | selectattr('r_max', 'ge', r_score)
                    | selectattr('fm_min', 'le', fm_score) | selectattr('fm_max', 'ge', fm_score) | list -%}
                {%- if covering | length == 0 -%}
                    {%- do uncovered.append("r " ~ r_score ~ "/fm " ~ fm_score) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if uncovered | length > 0 -%}
            {%- do problems.append("no segment covers the score pairs " ~ uncovered | join(', ') ~ " (every r_score and fm_score from 1 to 5 needs one)") -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro tierwise_validate_seeds() -%}
    {%- if execute -%}
        {%- set checks = {
            'tier_ladder': tierwise_tier_ladder_problems,
            'rfm_segments': tierwise_rfm_segments_problems,
        } -%}
        {%- set reports = [] -%}
        {%- for seed, check in checks.items() -%}
            {%- set node = tierwise_seed_node(seed) -%}
            {%- set problems = [] -%}
            {%- set rows = tierwise_seed_rows(node, problems) -%}
            {%- if problems | length == 0 -%}
                {%- do check(rows, problems) -%}
            {%- endif -%}
            {%- if problems | length > 0 -%}
                {%- do reports.append("Invalid " ~ tierwise_seed_label(node) ~ ":\n  - " ~ problems | join("\n  - ")) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if reports | length > 0 -%}
            {{ exceptions.raise_compiler_error(reports | join("\n") ~ "\nNothing was loaded or built: correct the file(s) named above and build again.") }}
        {%- endif -%}
    {%- endif -%}
    select 1 as tierwise_rule_seeds_valid
{%- endmacro %}
