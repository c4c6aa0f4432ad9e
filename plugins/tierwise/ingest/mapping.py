"""From a staged batch to canonical rows with a quarantine reason, in SQL.

Steps, all in DuckDB over the stage of :mod:`tierwise.ingest.readers`:

``mark_duplicates``   later copies of an identical row in the same file get ``_tw_first``;
``_tw_typed`` (view)  the export columns that have a type hint, parsed with try_cast;
``mapped``            mapping expressions and value rules, evaluated over *all* rows of a
                      file, so that window expressions (line numbers within an invoice)
                      do not depend on what is quarantined;
``texts`` / ``parsed`` each canonical field as text (after defaults), then typed;
``checked``           the first hard rule a row breaks, as a reason code.

The result, ``_tw_result``, holds every row of the batch (of the slice, for dateless
files in an interval run) with ``_tw_reason`` null (goes to raw) or set (goes to
quarantine). The writer checks per file that read = loaded + quarantined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from tierwise.exceptions import IngestError
from tierwise.ingest import rules
from tierwise.ingest.config import ParseHints, SourceConfig, ValueRule
from tierwise.ingest.readers import LINED, STAGE
from tierwise.ingest.sql import ident, literal, literal_list, parse_expression
from tierwise.schema import Entity, Field

TYPED = "_tw_typed"
_CARRIED = (
    "_tw_ord",
    "_tw_file",
    "_source_line",
    "_tw_malformed",
    "_tw_first",
    "_tw_file_date",
    "_tw_cutoff",
    "_tw_sliced",
)
RESULT = "_tw_result"
_MISSING_COLUMN = re.compile(r'Referenced column "?([^"!]+?)"? not found')


def future_cutoff(file_date: date | None, interval: tuple[date, date] | None) -> date | None:
    """Dates after this are in the future of the export: its file date, else the interval end, + 1 day."""
    if file_date:
        return file_date + timedelta(days=1)
    return interval[1] + timedelta(days=1) if interval else None


@dataclass(frozen=True)
class FieldPlan:
    field: Field
    expr: str | None
    """SQL over the typed export columns, or None when nothing feeds the field."""
    expr_type: str
    origin: str
    default: str | None
    rules: tuple[ValueRule, ...]
    value_map: dict[str, str]
    allowed: tuple[str, ...] | None
    fallback: str | None
    entity: Entity

    @property
    def name(self) -> str:
        return self.field.name


@dataclass(frozen=True)
class Check:
    reason: str
    condition: str
    detail: str


# --- typed view ---------------------------------------------------------------------------------


def mark_duplicates(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...]) -> None:
    """Set ``_tw_first`` (the line of the first copy) on every later copy of a row in the same file."""
    if not columns:
        return
    values = ", ".join(f"s.{ident(c)}" for c in columns)
    # The row hashes find the few repeated rows cheaply; the window then compares the actual
    # values of just those rows, so a hash collision can never drop a row.
    con.execute(
        f"""
        update {STAGE} set _tw_first = copies.first_line
        from (
            select _tw_ord, first_line from (
                select s._tw_ord, row_number() over w as copy,
                    first_value(s._source_line) over w as first_line
                from {LINED} as s
                where s._tw_hash in (select _tw_hash from {STAGE} group by 1 having count(*) > 1)
                window w as (partition by s._tw_file, {values} order by s._tw_ord)
            ) where copy > 1
        ) as copies
        where {STAGE}._tw_ord = copies._tw_ord
        """
    )


def create_typed_view(con: duckdb.DuckDBPyConnection, config: SourceConfig, columns: tuple[str, ...]) -> None:
    """``_tw_typed``: the stage with the export columns that have a type hint parsed."""
    typed = [_typed_column(config.parse, index, name) for index, name in enumerate(columns)]
    selected = ", ".join(part for pair in typed for part in pair if part)
    con.execute(
        f"create or replace temp view {TYPED} as select {', '.join('d.' + c for c in _CARRIED)}"
        f"{', ' + selected if selected else ''} from {LINED} as d"
    )


def _typed_column(hints: ParseHints, index: int, name: str) -> tuple[str, str | None]:
    hinted = {key.lower(): value for key, value in hints.column_types.items()}.get(name.lower())
    column = f"d.{ident(name)}"
    if not hinted:
        return f"{column} as {ident(name)}", None
    text = trimmed(column)
    parsed = parse_scalar(text, hinted, hints)
    problem = (
        f"case when {text} is not null and {parsed} is null then "
        f"{literal(name + ': cannot read ')} || {column} || {literal(' as ' + hinted)} end as _tw_bad_{index}"
    )
    return f"{parsed} as {ident(name)}", problem


def bad_column_checks(config: SourceConfig, columns: tuple[str, ...]) -> list[Check]:
    hinted = {key.lower() for key in config.parse.column_types}
    return [
        Check(f"invalid_{_code(name)}", f"_tw_bad_{index} is not null", f"_tw_bad_{index}")
        for index, name in enumerate(columns)
        if name.lower() in hinted
    ]


def _code(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "column"


# --- value parsing ------------------------------------------------------------------------------


def trimmed(text: str) -> str:
    """``text`` without surrounding spaces, empty as null."""
    # trim() copies every value; testing the ends first makes the common, clean case ~4x cheaper.
    padded = f"starts_with({text}, ' ') or ends_with({text}, ' ')"
    return f"nullif(case when {padded} then trim({text}) else {text} end, '')"


def parse_scalar(text: str, type_name: str, hints: ParseHints) -> str:
    """SQL that reads ``text`` (a VARCHAR expression) as ``type_name``, null when it cannot."""
    kind = type_name.upper()
    if kind.startswith(("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL")):
        cleaned = f"try_cast({_clean_number(text, hints)} as {type_name})"
        return _plain_first(f"try_cast({text} as {type_name})", cleaned, hints)
    if kind in ("INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        number = _clean_number(text, hints)
        # try_cast rounds '6.5' to 7; a count with a fraction is a bad value, not a rounding job.
        # The cleaned text appears once: DuckDB would otherwise compute a repeated sub-expression
        # for every row up front, defeating the plain-cast-first shortcut below.
        whole = f"try_cast(regexp_extract({number}, '^([+-]?[0-9]+)(\\.0*)?$', 1) as {type_name})"
        plain = f"case when strpos({text}, '.') = 0 then try_cast({text} as {type_name}) end"
        return _plain_first(plain, whole, hints)
    if kind in ("TIMESTAMP", "DATETIME"):
        return _parse_timestamp(text, hints)
    if kind == "DATE":
        return f"cast({_parse_timestamp(text, hints)} as date)"
    if kind in ("BOOLEAN", "BOOL"):
        return (
            f"case when lower({text}) in ({', '.join(map(literal, hints.true_values))}) then true "
            f"when lower({text}) in ({', '.join(map(literal, hints.false_values))}) then false end"
        )
    return f"try_cast({text} as {type_name})"


def _plain_first(plain: str, cleaned: str, hints: ParseHints) -> str:
    """Try the plain cast before the regex clean-up: DuckDB's coalesce only runs the second for misses."""
    if hints.decimal_separator != "." or hints.thousands_separator == ".":
        # '1.234' means 1234 here: a plain cast would read it wrongly, not fail.
        return cleaned
    return f"coalesce({plain}, {cleaned})"


def _clean_number(text: str, hints: ParseHints) -> str:
    symbols = "|".join(re.escape(symbol) for symbol in hints.currency_symbols)
    pattern = f"({symbols}|\\s|\u00a0)" if symbols else "(\\s|\u00a0)"
    cleaned = f"regexp_replace({text}, {literal(pattern)}, '', 'g')"
    if hints.thousands_separator.strip():
        cleaned = f"replace({cleaned}, {literal(hints.thousands_separator)}, '')"
    if hints.decimal_separator != ".":
        cleaned = f"replace({cleaned}, {literal(hints.decimal_separator)}, '.')"
    return cleaned


def _parse_timestamp(text: str, hints: ParseHints) -> str:
    iso = f"try_cast({text} as timestamp)"
    if not hints.date_formats:
        return iso
    # Formats are tried in the order given; ISO 8601 is always understood as a last resort.
    return f"coalesce(try_strptime({text}, {literal_list(hints.date_formats)}), {iso})"


# --- field plans --------------------------------------------------------------------------------


def plan_fields(
    con: duckdb.DuckDBPyConnection, config: SourceConfig, columns: tuple[str, ...], label: str
) -> tuple[list[FieldPlan], list[str]]:
    """How each canonical field is fed; IngestError when a required one cannot be.

    ``label`` names the file(s) in messages.
    """
    by_lower = {c.lower(): c for c in columns}
    plans, warnings = [], []
    for field in config.schema.fields:
        expr, origin = _source_of(config, field, by_lower)
        expr_type = "VARCHAR"
        if expr is not None:
            try:
                _check_columns(con, expr, by_lower)
                expr_type = _bind(con, expr)
            except IngestError as error:
                if _needed(config, field):
                    raise IngestError(f"{label}: required field {field.name!r} ({origin}): {error}") from None
                warnings.append(f"{label}: {field.name} left empty ({origin}): {error}")
                expr = None
        plans.append(_plan(config, field, expr, expr_type, origin))
    missing = [
        p.name
        for p in plans
        if _needed(config, p.field) and p.expr is None and p.default is None and not p.rules
    ]
    if missing:
        raise IngestError(_missing_message(config, label, missing[0], columns))
    for plan in plans:
        for rule in plan.rules:
            _bind_rule(con, rule, plan.name, label)
    return plans, warnings


def _needed(config: SourceConfig, field: Field) -> bool:
    return field.required and field.name not in rules.FALLBACKS.get(config.entity, {})


def _source_of(config: SourceConfig, field: Field, by_lower: dict[str, str]) -> tuple[str | None, str]:
    if field.name in config.mapping:
        return config.mapping[field.name], f"mapping.{field.name}: {config.mapping[field.name]}"
    if field.name in by_lower:
        return f"t.{ident(by_lower[field.name])}", f"column {by_lower[field.name]}"
    return None, "not in the file"


def _plan(config: SourceConfig, field: Field, expr: str | None, expr_type: str, origin: str) -> FieldPlan:
    implicit = rules.IMPLICIT_DEFAULTS.get(config.entity, {}).get(field.name) if expr is None else None
    value_mapping = config.values.get(field.name)
    return FieldPlan(
        field=field,
        expr=expr,
        expr_type=expr_type,
        origin=origin,
        default=config.defaults.get(field.name, implicit),
        rules=value_mapping.rules if value_mapping else (),
        value_map=value_mapping.map if value_mapping else {},
        allowed=rules.allowed_values(config.schema, field.name),
        fallback=rules.FALLBACKS.get(config.entity, {}).get(field.name),
        entity=config.schema,
    )


def _check_columns(con: duckdb.DuckDBPyConnection, expr: str, by_lower: dict[str, str]) -> None:
    """IngestError naming a column the expression reads that the file lacks.

    Checked on the parsed expression, before DuckDB binds it: a failed bind inside the load's
    transaction would abort the transaction, and an optional field must only be left empty.
    ``items.amount`` reads the struct column ``items`` of a multi-file source.
    """
    available = set(by_lower) | {name.lower() for name in _CARRIED}
    missing = sorted(
        name
        for name in parse_expression(con, expr).names
        if name[0] not in available and not (len(name) > 1 and name[-1] in available)
    )
    if missing:
        # The parser lower-cases names; show the column as the config spells it.
        wanted = ".".join(missing[0])
        spelled = re.search(re.escape(wanted), expr, re.IGNORECASE)
        raise IngestError(f"column {spelled.group(0) if spelled else wanted!r} is missing from the file")


def _bind(con: duckdb.DuckDBPyConnection, expr: str) -> str:
    """The DuckDB type of ``expr`` over the typed view; IngestError naming a missing column."""
    try:
        described = con.execute(f"describe select {expr} as v from {TYPED} as t").fetchall()
    except duckdb.Error as error:
        found = _MISSING_COLUMN.search(str(error))
        if found:
            raise IngestError(f"column {found.group(1)!r} is missing from the file") from None
        raise IngestError(str(error).splitlines()[0]) from None
    return str(described[0][1])


def _bind_rule(con: duckdb.DuckDBPyConnection, rule: ValueRule, name: str, path: str) -> None:
    try:
        _bind(con, rule.when)
    except IngestError as error:
        raise IngestError(f"{path}: values.{name}.rules 'when: {rule.when}': {error}") from None


def _missing_message(config: SourceConfig, path: str, name: str, columns: tuple[str, ...]) -> str:
    shown = ", ".join(columns[:20]) or "(none)"
    message = (
        f"{path}: no column for required field {name!r}: expected a column named {name!r} "
        f"or mapping.{name} in {config.origin}; the file has columns: {shown}"
    )
    delimiter = config.format.delimiter
    if config.format.type == "csv" and len(columns) == 1 and any(d in columns[0] for d in ",;\t|"):
        message += f" (one single column: is format.delimiter {delimiter!r} right?)"
    return message


# --- the result query ---------------------------------------------------------------------------


def create_result(
    con: duckdb.DuckDBPyConnection,
    config: SourceConfig,
    plans: list[FieldPlan],
    columns: tuple[str, ...],
    interval: tuple[date, date] | None,
    label: str,
) -> None:
    """Materialise ``_tw_result``: canonical values, ``_tw_reason`` and ``_tw_detail`` per row."""
    try:
        con.execute(
            f"create or replace temp table {RESULT} as {result_query(config, plans, columns, interval)}"
        )
    except duckdb.Error as error:
        raise IngestError(
            f"{label}: a mapping expression failed while loading ({str(error).splitlines()[0]}); "
            "expressions over untyped columns need parse.column_types or try_cast"
        ) from None


def result_query(
    config: SourceConfig, plans: list[FieldPlan], columns: tuple[str, ...], interval: tuple[date, date] | None
) -> str:
    """The SELECT behind ``_tw_result`` (exposed for EXPLAIN ANALYZE when tuning)."""
    checks = [
        Check("malformed_line", "_tw_malformed", literal("not a JSON object")),
        Check("duplicate", "_tw_first is not null", "'exact copy of line ' || _tw_first"),
        *bad_column_checks(config, columns),
        *[check for plan in plans for check in field_checks(plan)],
    ]
    bad = [f"t._tw_bad_{i}" for i, c in enumerate(columns) if c.lower() in _hinted(config)]
    return f"""
        with mapped as (
            select {", ".join("t." + c for c in _CARRIED)}
                {"".join(", " + b for b in bad)}
                {"".join(", " + _mapped_value(p) for p in plans)}
            from {TYPED} as t
        ),
        texts as (select m.*{"".join(", " + _text(p) for p in plans)} from mapped as m),
        parsed as (select x.*{"".join(", " + _parsed(p, config.parse) for p in plans)} from texts as x),
        checked as (
            select p.*, {_reason_sql(checks)} as _tw_reason, {_slice_sql(config, plans)} as _tw_slice
            from parsed as p
        )
        select _tw_ord, _tw_file, _source_line, _tw_slice as _slice_date,
            {", ".join(_final(p) + " as " + ident(p.name) for p in plans)},
            _tw_reason, case when _tw_reason is not null then {_detail_sql(checks)} end as _tw_detail
        from checked
        {_slice_filter(interval)}
    """


def _hinted(config: SourceConfig) -> set[str]:
    return {key.lower() for key in config.parse.column_types}


def _mapped_value(plan: FieldPlan) -> str:
    value = plan.expr or "null"
    if plan.rules:
        whens = " ".join(f"when {rule.when} then {literal(rule.then)}" for rule in plan.rules)
        return f"{value} as {ident(plan.name + '__v')}, case {whens} end as {ident(plan.name + '__r')}"
    return f"{value} as {ident(plan.name + '__v')}"


def _text(plan: FieldPlan) -> str:
    """The field as trimmed text after defaults (and, for codes, after rules and normalising)."""
    value = f"m.{ident(plan.name + '__v')}"
    text = trimmed(f"cast({value} as varchar)")
    default = literal(plan.default) if plan.default is not None else None
    if plan.allowed:
        text = _normalise(text, plan.name, plan.allowed)
        default = literal(rules.normalise_code(plan.name, plan.default)) if plan.default is not None else None
    parts = [f"m.{ident(plan.name + '__r')}"] if plan.rules else []
    parts += [text] + ([default] if default else [])
    combined = f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]
    return f"{combined} as {ident(plan.name + '__t')}"


def _normalise(text: str, name: str, allowed: tuple[str, ...]) -> str:
    spelled = (
        f"upper({text})"
        if name in rules.UPPERCASE_CODES
        else f"lower(replace(replace({text}, ' ', '_'), '-', '_'))"
    )
    if all(rules.normalise_code(name, value) == value for value in allowed):
        # Rewriting a canonical value leaves it as it is, so no membership test is needed; DuckDB
        # runs an IN list of five or more values as a hash join, which costs more than the rewrite
        # (176 currency codes: about 5% of the mapping query).
        return spelled
    # Most exports already use the canonical spelling: only the others pay for the string rewriting.
    return f"case when {text} in ({', '.join(map(literal, allowed))}) then {text} else {spelled} end"


def _parsed(plan: FieldPlan, hints: ParseHints) -> str:
    text = f"x.{ident(plan.name + '__t')}"
    field = plan.field
    if plan.allowed:
        value = _value_map(text, plan.value_map)
    elif field.type == "VARCHAR":
        value = _identifier(text) if rules.is_identifier(field) and hints.float_ids else text
    elif plan.expr is not None and plan.expr_type != "VARCHAR":
        # A typed expression (arithmetic, window) is cast, not re-read as text: its text form
        # would trip over locale hints such as a decimal comma.
        typed = f"try_cast(x.{ident(plan.name + '__v')} as {field.type})"
        value = f"coalesce({typed}, {parse_scalar(text, field.type, hints)})"
    else:
        value = parse_scalar(text, field.type, hints)
    return f"{value} as {ident(plan.name)}"


def _value_map(text: str, value_map: dict[str, str]) -> str:
    if not value_map:
        return text
    whens = " ".join(f"when {literal(source)} then {literal(target)}" for source, target in value_map.items())
    return f"case {text} {whens} else {text} end"


def _identifier(text: str) -> str:
    # Spreadsheets turn ids into floats: 17850.0 is customer 17850.
    return f"regexp_replace({text}, '^([+-]?[0-9]+)\\.0+$', '\\1')"


def field_checks(plan: FieldPlan) -> list[Check]:
    """The hard rules of one field, in the order they are reported."""
    name, text, value = plan.name, ident(plan.name + "__t"), ident(plan.name)
    shown = f"coalesce({text}, '')"
    checks = []
    if plan.field.required and plan.fallback is None:
        checks.append(
            Check(f"missing_{name}", f"{text} is null", literal(f"{name} is empty ({plan.origin})"))
        )
    if plan.allowed:
        allowed = rules.describe_allowed(plan.entity, name)
        checks.append(
            Check(
                f"unknown_{name}",
                f"{value} not in ({', '.join(map(literal, plan.allowed))})",
                f"{literal(name + ': ')} || {shown} || {literal(' is not ' + allowed)}",
            )
        )
    elif plan.field.type != "VARCHAR":
        checks.append(
            Check(
                f"invalid_{name}",
                f"{text} is not null and {value} is null",
                f"{literal(name + ': cannot read ')} || {shown} || {literal(' as ' + plan.field.type)}",
            )
        )
    return checks + _range_checks(plan)


def _range_checks(plan: FieldPlan) -> list[Check]:
    name, value = plan.name, ident(plan.name)
    if rules.is_identifier(plan.field):
        # A NUL or other control character in a key is a broken export (or an attack on the
        # systems the key is published to), never part of an id.
        return [
            Check(
                f"invalid_{name}",
                f"regexp_matches({value}, '[\\x00-\\x1f\\x7f]')",
                f"{literal(name + ' holds a control character: ')} || "
                f"regexp_replace({value}, '[\\x00-\\x1f\\x7f]', '\u2400', 'g')",
            )
        ]
    if rules.is_money(plan.field):
        return [
            Check(f"negative_{name}", f"{value} < 0", f"{literal(name + ' is negative: ')} || {value}"),
            Check(
                f"absurd_{name}",
                f"{value} >= {rules.ABSURD_AMOUNT}",
                f"{literal(name + ' is absurd (>= ' + format(rules.ABSURD_AMOUNT, ',') + '): ')} || {value}",
            ),
        ]
    if rules.is_temporal(plan.field):
        # _tw_cutoff is per file (null when neither a file date nor an interval bounds it).
        return [
            Check(
                f"future_{name}",
                f"cast({value} as date) > _tw_cutoff",
                f"{literal(name + ' ')} || {value} || ' is after ' || _tw_cutoff || ' (export date + 1 day)'",
            )
        ]
    return []


def _reason_sql(checks: list[Check]) -> str:
    return "case " + " ".join(f"when {c.condition} then {literal(c.reason)}" for c in checks) + " end"


def _detail_sql(checks: list[Check]) -> str:
    seen: dict[str, str] = {}
    for check in checks:
        seen.setdefault(check.reason, check.detail)
    return "case _tw_reason " + " ".join(f"when {literal(r)} then {d}" for r, d in seen.items()) + " end"


def _final(plan: FieldPlan) -> str:
    if plan.fallback:
        return f"coalesce({ident(plan.name)}, {ident(plan.fallback)})"
    return ident(plan.name)


def _slice_sql(config: SourceConfig, plans: list[FieldPlan]) -> str:
    """The day a row belongs to: its file's date, else the date of its interval column."""
    column = next(p for p in plans if p.name == config.interval_column)
    return f"coalesce(_tw_file_date, cast({_final(column)} as date))"


def _slice_filter(interval: tuple[date, date] | None) -> str:
    if not interval:
        return ""
    start, end = (literal(day.isoformat()) for day in interval)
    # Rows whose interval date cannot be read belong to no slice: every slice run quarantines
    # them again, replacing the earlier copy (the loader deletes a slice's rows by file first).
    inside = f"_tw_slice >= date {start} and _tw_slice < date {end}"
    return f"where not _tw_sliced or _tw_slice is null or ({inside})"
