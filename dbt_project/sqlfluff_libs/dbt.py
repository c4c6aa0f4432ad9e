"""Stand-ins for dbt's cross-database macros, for sqlfluff's jinja templater only.

sqlfluff lints this project with the jinja templater (the dbt templater needs a
live profile). These functions render ``dbt.<macro>(...)`` calls into plausible
DuckDB SQL so the templated files parse; dbt itself never imports this module.
"""


def concat(fields):
    return " || ".join(fields)


def datediff(first_date, second_date, datepart):
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"({from_date_or_timestamp} + to_days({interval}))"


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def safe_cast(field, type):
    return f"try_cast({field} as {type})"


def type_string():
    return "varchar"


def type_int():
    return "integer"


def type_timestamp():
    return "timestamp"


def type_float():
    return "double"


def type_numeric():
    return "numeric(28, 6)"


def date_spine(datepart, start_date, end_date):
    return (
        f"select cast(generate_series as date) as date_{datepart} "
        f"from generate_series({start_date}, {end_date}, interval 1 {datepart})"
    )
