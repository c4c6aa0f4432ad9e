{#
    FX rates: revenue is reported in EUR, converted with rate_to_eur (EUR per
    unit of the currency) in force on the order date.

    Rates come from the fx_rates seed and, when var fx_rates_file names a CSV
    with the seed's columns (currency, valid_from, rate_to_eur), from that
    file: a currency the file lists takes all its rates from the file, the
    seed supplies the others. The on-run-start hook tierwise_validate_fx_rates
    checks both before anything is loaded or built and stops the build with
    a message naming the file, line, currency and problem.

    Engine-specific SQL sits behind adapter.dispatch: reading a local CSV
    (tierwise_read_fx_rates_file) and failing a query with a message
    (tierwise_raise_error). Another engine supplies its own
    <adapter>__ versions.
#}

{#
    The ISO 4217 codes in current use, less XTS (testing) and XXX (no
    currency): the same list as CURRENCIES in plugins/tierwise/schema.py
    (tests/unit/test_currencies.py keeps them equal).
#}
{% macro tierwise_iso_4217_codes() -%}
    {%- set codes %}
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK
    DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
    IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA
    XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG
    {% endset -%}
    {{ return(codes.split()) }}
{%- endmacro %}

{# The rates file named by var fx_rates_file, or none. #}
{% macro tierwise_fx_rates_file() -%}
    {%- set path = var('fx_rates_file', none) -%}
    {{ return((path | string | trim) if path else none) }}
{%- endmacro %}

{% macro tierwise_sql_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{#
    The rates file as text rows: line (the file's own line number, header =
    line 1), currency, valid_from, rate_to_eur. Only called on a file that
    tierwise_fx_rates_file_problems found readable.
#}
{% macro tierwise_read_fx_rates_file(path) -%}
    {{ return(adapter.dispatch('tierwise_read_fx_rates_file', 'tierwise')(path)) }}
{%- endmacro %}

{% macro default__tierwise_read_fx_rates_file(path) -%}
    (
        -- The CSV reader skips blank lines; numbering the non-blank ones keeps
        -- the line a message names the line an editor shows.
        with file_text as (
            select string_split(content, chr(10)) as text_lines
            from read_text({{ tierwise_sql_text(path) }})
        ),

        non_blank_lines as (
            select list_filter(
                generate_series(1, len(text_lines)),
                lambda line_number: trim(text_lines[line_number], chr(13) || ' ') <> ''
            ) as line_numbers
            from file_text
        ),

        file_rows as (
            select
                file_row.currency,
                file_row.valid_from,
                file_row.rate_to_eur,
                file_row.ordinality as row_number
            from read_csv(
                {{ tierwise_sql_text(path) }}, header = true, all_varchar = true
            ) with ordinality as file_row
        )

        select
            non_blank_lines.line_numbers[file_rows.row_number + 1] as line,
            file_rows.currency,
            file_rows.valid_from,
            file_rows.rate_to_eur
        from file_rows
        cross join non_blank_lines
    )
{%- endmacro %}

{#
    Problems that stop the file from being read at all: not found, several
    files, empty, a required column missing. Checked before its rows.
#}
{% macro tierwise_fx_rates_file_problems(path) -%}
    {%- set matches = run_query('select count(*) from glob(' ~ tierwise_sql_text(path) ~ ')').columns[0].values()[0] -%}
    {%- if matches == 0 -%}
        {{ return(["file not found (relative paths are read from the directory dbt runs in)"]) }}
    {%- elif matches > 1 -%}
        {{ return(["the path matches " ~ matches ~ " files; name one CSV file"]) }}
    {%- endif -%}
    {%- set content = run_query('select trim(content) = \'\' from read_text(' ~ tierwise_sql_text(path) ~ ')') -%}
    {%- if content.columns[0].values()[0] -%}
        {{ return(["the file is empty; it needs the header currency,valid_from,rate_to_eur"]) }}
    {%- endif -%}
    {%- set header = run_query('describe select * from read_csv(' ~ tierwise_sql_text(path) ~ ', header = true, all_varchar = true)') -%}
    {%- set columns = header.columns[0].values() | map('lower') | list -%}
    {%- set missing = ['currency', 'valid_from', 'rate_to_eur'] | reject('in', columns) | list -%}
    {%- if missing -%}
        {{ return(["missing column " ~ missing | join(', ') ~ " (the header must name currency, valid_from, rate_to_eur; found " ~ columns | join(', ') ~ ")"]) }}
    {%- endif -%}
    {{ return([]) }}
{%- endmacro %}

{#
    One row per rate that breaks a rule, as (origin, line, currency,
    valid_from, problem). Rules: an ISO 4217 code, a date YYYY-MM-DD, a
    positive rate (8 decimals are kept), EUR at 1, one rate per (currency,
    valid_from) within the seed or within the file.
#}
{% macro tierwise_fx_rate_problems_sql(seed_relation, path) -%}
    with candidates as (

        {%- if seed_relation is not none %}
        select
            'seeds/fx_rates.csv' as origin,
            cast(null as integer) as line,
            cast(currency as {{ dbt.type_string() }}) as currency_text,
            cast(valid_from as {{ dbt.type_string() }}) as valid_from_text,
            cast(rate_to_eur as {{ dbt.type_string() }}) as rate_text
        from {{ seed_relation }}
        {%- endif %}
        {%- if seed_relation is not none and path %}
        union all
        {%- endif %}
        {%- if path %}
        select
            {{ tierwise_sql_text(path) }} as origin,
            line,
            currency as currency_text,
            valid_from as valid_from_text,
            rate_to_eur as rate_text
        from {{ tierwise_read_fx_rates_file(path) }}
        {%- endif %}

    ),

    parsed as (

        select
            origin,
            line,
            upper(trim(coalesce(currency_text, ''))) as currency,
            trim(coalesce(valid_from_text, '')) as valid_from_text,
            trim(coalesce(rate_text, '')) as rate_text,
            cast({{ tierwise_try_parse_date('trim(valid_from_text)') }} as date) as valid_from,
            cast(try_cast(trim(rate_text) as decimal(38, 18)) as decimal(18, 8)) as rate_to_eur
        from candidates

    ),

    checked as (

        select
            origin,
            line,
            currency,
            valid_from_text,
            case
                when currency = '' then 'currency is empty'
                when currency not in (
                    {%- for code in tierwise_iso_4217_codes() %}'{{ code }}'{{ ", " if not loop.last }}{% endfor -%}
                ) then 'currency ' || currency || ' is not an ISO 4217 currency code in current use'
                when valid_from is null then 'valid_from ''' || valid_from_text || ''' is not a date YYYY-MM-DD'
                when rate_to_eur is null then 'rate_to_eur ''' || rate_text || ''' is not a number'
                when rate_to_eur <= 0 then 'rate_to_eur must be positive (8 decimals are kept), got ' || rate_text
                when currency = 'EUR' and rate_to_eur <> 1
                    then 'EUR is the reporting currency: its rate_to_eur must be 1, got ' || rate_text
                when count(*) over (partition by origin, currency, valid_from) > 1
                    then 'more than one rate for ' || currency || ' from ' || cast(valid_from as {{ dbt.type_string() }})
                        || coalesce(' (lines ' || {{ tierwise_string_agg_window(
                            'cast(line as ' ~ dbt.type_string() ~ ')', "', '", 'line',
                            partition_by='origin, currency, valid_from',
                        ) }} || ')', '')
            end as problem
        from parsed

    )

    select
        origin,
        line,
        currency,
        valid_from_text,
        problem
    from checked
    where problem is not null
    order by origin, line, currency, valid_from_text
{%- endmacro %}

{#
    Stop the build when the seed or the rates file breaks a rule, with every
    problem (up to 50) in the message. An on-run-start hook of dbt_project.yml,
    given the seed's CSV file (tierwise_seed_csv).
#}
{% macro tierwise_validate_fx_rates(seed_relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set path = tierwise_fx_rates_file() -%}
    {%- set problems = [] -%}
    {%- if path -%}
        {%- for problem in tierwise_fx_rates_file_problems(path) -%}
            {%- do problems.append(path ~ ": " ~ problem) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if problems | length == 0 and (seed_relation is not none or path) -%}
        {%- set found = run_query(tierwise_fx_rate_problems_sql(seed_relation, path)) -%}
        {%- for row in found.rows -%}
            {%- set where = row.origin ~ (" line " ~ row.line if row.line is not none else "") -%}
            {%- do problems.append(where ~ " (" ~ (row.currency or "?") ~ " from " ~ (row.valid_from_text or "?") ~ "): " ~ row.problem) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if problems | length > 0 -%}
        {%- set shown = problems[:50] -%}
        {%- set more = ["... and " ~ (problems | length - 50) ~ " more"] if problems | length > 50 else [] -%}
        {{ exceptions.raise_compiler_error(
            "Invalid FX rates; nothing that reads a rate was built. Fix them in the rates file (var fx_rates_file: "
            ~ (path or "not set") ~ ") or the seed dbt_project/seeds/fx_rates.csv:\n  - "
            ~ (shown + more) | join("\n  - ")
        ) }}
    {%- endif -%}
{%- endmacro %}

{#
    A SQL expression that fails the query with `message` (a SQL string
    expression) when it is evaluated; put it in the branch of a case that
    must never be reached. DuckDB has error(); another engine supplies
    <adapter>__tierwise_raise_error.
#}
{% macro tierwise_raise_error(message) -%}
    {{ return(adapter.dispatch('tierwise_raise_error', 'tierwise')(message)) }}
{%- endmacro %}

{% macro default__tierwise_raise_error(message) -%}
    error({{ message }})
{%- endmacro %}
