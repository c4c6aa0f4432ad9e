"""Declarative source configs: one YAML file per export, validated on load.

Every problem is a :class:`~tierwise.exceptions.ConfigError` that names the file,
the key and what is wrong, e.g. ``orders.yml: format.delimiter: must be 1 to 4
bytes``. The format is documented with a full example in docs/ingestion.md.

The file's shape (keys, types, choices) is checked by pydantic (:mod:`tierwise.configfile`);
what needs the entity or DuckDB (canonical fields, SQL, type names, joins) is checked here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import duckdb
from pydantic import AfterValidator, BeforeValidator, TypeAdapter, model_validator
from pydantic.dataclasses import dataclass

from tierwise.configfile import (
    CONFIG,
    Count,
    Flag,
    Invalid,
    NonBlank,
    Section,
    TextList,
    errors_named,
    read_yaml,
)
from tierwise.exceptions import ConfigError
from tierwise.ingest import rules
from tierwise.ingest.sql import ParsedExpression, check_date_format, check_type, parse_expression
from tierwise.schema import ENTITIES, Entity

T = TypeVar("T")
_INPUT_NAME = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_DATE_PATTERN = r"(\d{4}-\d{2}-\d{2})"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_KEYS = ("key_id", "secret", "access_key", "secret_key", "session_token", "password", "endpoint")


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise Invalid(f"{name!r} is not an environment variable name")
    return name


EnvName = Annotated[str, AfterValidator(_env_name)]


@dataclass(frozen=True, config=CONFIG)
class S3Options(Section):
    """Where the S3 (or S3-compatible) connection settings come from: environment variable names only."""

    endpoint_env: EnvName = "AWS_ENDPOINT_URL"
    region_env: EnvName = "AWS_REGION"
    key_id_env: EnvName = "AWS_ACCESS_KEY_ID"
    secret_env: EnvName = "AWS_SECRET_ACCESS_KEY"
    session_token_env: EnvName = "AWS_SESSION_TOKEN"
    url_style: Literal["vhost", "path"] = "vhost"
    use_ssl: Flag = True

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        for key in data if isinstance(data, Mapping) else ():
            if key in _SECRET_KEYS:
                message = f"connection settings come from environment variables only: use {key}_env"
                raise Invalid(f"{message} with the name of the variable", key)
        return data


def _date_pattern(pattern: str) -> str:
    try:
        groups = re.compile(pattern).groups
    except re.error as error:
        raise Invalid(f"not a regular expression ({error})") from None
    if groups != 1:
        raise Invalid("must have exactly one (group) around the date")
    return pattern


@dataclass(frozen=True, config=CONFIG)
class FileOptions(Section):
    pattern: NonBlank
    date_pattern: Annotated[str, AfterValidator(_date_pattern)] = DEFAULT_DATE_PATTERN
    date_format: str = "%Y-%m-%d"
    empty_files: Literal["error", "skip"] = "error"
    s3: S3Options = field(default_factory=S3Options)


def _delimiter(value: str) -> str:
    value = "\t" if value in ("\\t", "tab") else value
    if not 1 <= len(value.encode()) <= 4:
        raise Invalid(f"must be 1 to 4 bytes, got {value!r}")
    return value


def _char(value: str) -> str:
    if len(value) > 1:
        raise Invalid("must be a single character or empty")
    return value


Char = Annotated[str, AfterValidator(_char)]


@dataclass(frozen=True, config=CONFIG)
class FormatOptions(Section):
    type: Literal["csv", "parquet", "jsonl"] = "csv"
    delimiter: Annotated[str, AfterValidator(_delimiter)] = ","
    header: Flag = True
    quote: Char = '"'
    escape: Char = '"'
    encoding: Annotated[
        Literal["utf-8", "utf-16", "latin-1", "latin1"],
        BeforeValidator(lambda v: "utf-8" if v == "utf8" else v),
    ] = "utf-8"
    compression: Literal["auto", "none", "gzip", "zstd"] = "auto"
    columns: TextList = ()
    skip_rows: Count = 0

    @model_validator(mode="before")
    @classmethod
    def _escape_like_quote(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("escape") is None and data.get("quote") is not None:
            return {**data, "escape": data["quote"]}
        return data


def _lower(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(value.lower() for value in values)


@dataclass(frozen=True, config=CONFIG)
class ParseHints(Section):
    date_formats: TextList = ()
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal["", ",", ".", " ", "'", "\u00a0"] = ""
    currency_symbols: TextList = ("£", "€", "$")
    float_ids: Flag = False
    column_types: dict[str, str] = field(default_factory=dict)
    true_values: Annotated[TextList, AfterValidator(_lower)] = rules.DEFAULT_TRUE_VALUES
    false_values: Annotated[TextList, AfterValidator(_lower)] = rules.DEFAULT_FALSE_VALUES

    @model_validator(mode="after")
    def _separators_differ(self) -> ParseHints:
        if self.thousands_separator == self.decimal_separator:
            raise Invalid("must differ from decimal_separator", "thousands_separator")
        return self


@dataclass(frozen=True, config=CONFIG)
class ValueRule(Section):
    when: str
    then: str


@dataclass(frozen=True, config=CONFIG)
class ValueMapping(Section):
    map: dict[str, str] = field(default_factory=dict)
    rules: tuple[ValueRule, ...] = ()


# Built by the checks below rather than read as they are: plain dataclasses.


@dataclasses.dataclass(frozen=True)
class JoinSpec:
    """How an input joins the grain: by key, one row per key, or aggregated per key."""

    on: tuple[tuple[str, str], ...]
    """(column of this input, SQL over the grain and the inputs joined before it)."""
    aggregate: dict[str, str] = field(default_factory=dict)
    """Name -> aggregate expression over this input's columns; empty: a lookup of one row per key."""


@dataclasses.dataclass(frozen=True)
class InputConfig:
    """One file set of a multi-file source, landed as it is before the canonical rows are derived."""

    name: str
    files: FileOptions
    format: FormatOptions = field(default_factory=FormatOptions)
    column_types: dict[str, str] = field(default_factory=dict)
    join: JoinSpec | None = None
    """None for the grain (one canonical row per row of it)."""
    lookup: bool = False
    """Read for its values only: its rows are accounted for by the source that owns the files."""


@dataclasses.dataclass(frozen=True)
class SourceConfig:
    """A checked source config, built from the file by :func:`parse_source_config`."""

    name: str
    entity: str
    files: FileOptions
    format: FormatOptions = field(default_factory=FormatOptions)
    parse: ParseHints = field(default_factory=ParseHints)
    mapping: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    values: dict[str, ValueMapping] = field(default_factory=dict)
    ignore_columns: tuple[str, ...] = ()
    interval_column: str = rules.DEFAULT_INTERVAL_COLUMN
    description: str = ""
    origin: str = "<inline config>"
    referenced_columns: frozenset[str] = frozenset()
    """Lower-cased export columns read by mapping expressions, rules and type hints."""
    duplicates: str = "quarantine"
    """Exact duplicate lines of a file: quarantined (all but the first), or kept as genuine repeats."""
    inputs: tuple[InputConfig, ...] = ()
    """A multi-file source: the grain first, then the inputs joined to it (docs/ingestion.md)."""

    @property
    def schema(self) -> Entity:
        return ENTITIES[self.entity]

    @property
    def multi_file(self) -> bool:
        return bool(self.inputs)

    def for_input(self, item: InputConfig) -> SourceConfig:
        """This config narrowed to one input's files and format (to list, hash and read them)."""
        return replace(self, files=item.files, format=item.format, inputs=())

    def fingerprint(self) -> str:
        """sha256 of everything that shapes the loaded rows: a changed config reloads its files."""
        content = asdict(self)
        for volatile in ("description", "origin", "referenced_columns"):
            content.pop(volatile)
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


# The file as written; parse_source_config checks it against the entity and builds a SourceConfig.


@dataclass(frozen=True, config=CONFIG)
class _JoinFile(Section):
    on: object = None
    """A column (same name in the grain), a list of them, or {column: SQL over earlier inputs}."""
    aggregate: dict[str, str] = field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _on_key(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and True in data:
            # YAML 1.1 reads an unquoted `on` key as the boolean true.
            return {("on" if key is True else key): value for key, value in data.items()}
        return data


@dataclass(frozen=True, config=CONFIG)
class _InputFile(Section):
    files: FileOptions
    format: FormatOptions = field(default_factory=FormatOptions)
    column_types: dict[str, str] = field(default_factory=dict)
    join: _JoinFile | None = None
    lookup: Flag = False


def _known_entity(name: str) -> str:
    if name not in ENTITIES:
        raise Invalid(f"{name!r} is not one of: {', '.join(ENTITIES)}")
    return name


@dataclass(frozen=True, config=CONFIG)
class _SourceFile(Section):
    entity: Annotated[str, AfterValidator(_known_entity)]
    name: str = ""
    description: str = ""
    files: FileOptions | None = None
    format: FormatOptions = field(default_factory=FormatOptions)
    parse: ParseHints = field(default_factory=ParseHints)
    mapping: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, object] = field(default_factory=dict)
    values: dict[str, ValueMapping] = field(default_factory=dict)
    ignore_columns: TextList = ()
    interval_column: str = rules.DEFAULT_INTERVAL_COLUMN
    duplicates: Literal["quarantine", "keep"] = "quarantine"
    inputs: dict[str, _InputFile] | None = None
    grain: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _inputs_inherit_format(cls, data: Any) -> Any:
        """Each input reads with the source's format, overridden key by key by its own."""
        if not isinstance(data, Mapping) or not isinstance(data.get("inputs"), Mapping):
            return data
        shared = data.get("format") or {}
        return {**data, "inputs": {name: _with_format(item, shared) for name, item in data["inputs"].items()}}


def _with_format(item: Any, shared: Any) -> Any:
    own = (item.get("format") or {}) if isinstance(item, Mapping) else None
    if not isinstance(own, Mapping) or not isinstance(shared, Mapping):
        return item
    return {**item, "format": {**shared, **own}}


def load_source_config(path: Path) -> SourceConfig:
    """Read and validate one source config file."""
    return parse_source_config(read_yaml(path, "source config"), origin=str(path), default_name=path.stem)


def load_source_configs(directory: Path) -> dict[str, SourceConfig]:
    """Every ``*.yml`` / ``*.yaml`` config in ``directory``, keyed by source name."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: source config directory not found")
    configs: dict[str, SourceConfig] = {}
    for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
        config = load_source_config(path)
        if config.name in configs:
            raise ConfigError(f"{path}: name: {config.name!r} is also used by {configs[config.name].origin}")
        configs[config.name] = config
    return configs


def parse_source_config(data: Mapping[str, Any], *, origin: str, default_name: str) -> SourceConfig:
    """Validate a config already read into a mapping (tests build them inline)."""
    with errors_named(origin):
        source = TypeAdapter(_SourceFile).validate_python(data)
        with duckdb.connect() as con:
            return _build(source, con, origin=origin, default_name=default_name)


def _build(
    source: _SourceFile, con: duckdb.DuckDBPyConnection, *, origin: str, default_name: str
) -> SourceConfig:
    entity = ENTITIES[source.entity]
    hints = _check_hints(source.parse, con)
    mapping, parsed = _check_mapping(source.mapping, entity, con)
    values, rule_exprs = _check_values(source.values, entity, con)
    inputs = _check_inputs(source, con)
    if inputs:
        grain = inputs[0]
        files, fmt = grain.files, grain.format
        hints_used = replace(hints, column_types={**hints.column_types, **grain.column_types})
    elif source.files is not None:
        files, fmt, hints_used = source.files, source.format, hints
    else:
        raise Invalid("is required", "files")
    referenced = frozenset().union(*(p.columns for p in [*parsed, *rule_exprs]))
    return SourceConfig(
        name=source.name or default_name,
        entity=source.entity,
        files=files,
        format=fmt,
        parse=hints_used,
        duplicates=source.duplicates,
        inputs=inputs,
        mapping=mapping,
        defaults=_check_defaults(source.defaults, entity),
        values=values,
        ignore_columns=source.ignore_columns,
        interval_column=_check_interval_column(
            source.interval_column or rules.DEFAULT_INTERVAL_COLUMN, entity
        ),
        description=source.description,
        origin=origin,
        referenced_columns=referenced | {name.lower() for name in hints.column_types},
    )


def _sql(
    check: Callable[[duckdb.DuckDBPyConnection, str], T],
    con: duckdb.DuckDBPyConnection,
    text: str,
    *at: str | int,
) -> T:
    """DuckDB's verdict on a piece of SQL from the config, as a problem at its key."""
    try:
        return check(con, text)
    except ValueError as error:
        raise Invalid(str(error), *at) from None


def _check_inputs(source: _SourceFile, con: duckdb.DuckDBPyConnection) -> tuple[InputConfig, ...]:
    """A multi-file source's file sets, the grain first (docs/ingestion.md, "Multi-file exports")."""
    if source.inputs is None:
        if source.grain is not None:
            raise Invalid("applies only to a source with inputs", "grain")
        return ()
    if source.files is not None:
        raise Invalid("a source has either files (one file set) or inputs (several), not both", "files")
    names = list(source.inputs)
    if not names:
        raise Invalid("name at least one file set", "inputs")
    grain = source.grain or names[0]
    if grain not in names:
        raise Invalid(f"{grain!r} is not one of the inputs: {', '.join(names)}", "grain")
    checked: list[InputConfig] = []
    for name in [grain, *(n for n in names if n != grain)]:
        if not _INPUT_NAME.fullmatch(name):
            raise Invalid("input names are lower-case words (letters, digits and _)", "inputs", name)
        before = [item.name for item in checked]
        checked.append(_check_input(name, source.inputs[name], grain, before, con))
    return tuple(checked)


def _check_input(
    name: str, item: _InputFile, grain: str, before: list[str], con: duckdb.DuckDBPyConnection
) -> InputConfig:
    at = ("inputs", name, "join")
    if name == grain and item.join is not None:
        raise Invalid(f"{name} is the grain (one canonical row per row of it): it joins nothing", *at)
    if name != grain and item.join is None:
        raise Invalid(f"is required: how the rows of {name} relate to {grain} (on: <column>)", *at)
    return InputConfig(
        name=name,
        files=item.files,
        format=item.format,
        column_types=_check_column_types(item.column_types, con, "inputs", name, "column_types"),
        join=None if item.join is None else _check_join(item.join, grain, before, con, at),
        lookup=item.lookup,
    )


def _check_join(
    join: _JoinFile, grain: str, before: list[str], con: duckdb.DuckDBPyConnection, at: tuple[str, ...]
) -> JoinSpec:
    on = [join.on] if isinstance(join.on, str) else join.on
    if isinstance(on, list) and on and all(isinstance(item, str) for item in on):
        pairs = [(column, f"{grain}.{column}") for column in on]
    elif isinstance(on, Mapping) and on:
        pairs = [(str(column), str(other)) for column, other in on.items()]
    else:
        message = "is required: a column (same name in the grain), a list, or {column: input.column}"
        raise Invalid(message, *at, "on")
    for column, other in pairs:
        parsed = _sql(parse_expression, con, other, *at, "on", column)
        if sorted(parsed.qualifiers - set(before)) or not parsed.qualifiers:
            raise Invalid(
                f"{other!r} must name its input, one joined before this one: {', '.join(before)} "
                f"(e.g. {grain}.{column})",
                *at,
                "on",
                column,
            )
    return JoinSpec(on=tuple(pairs), aggregate=_check_aggregates(join.aggregate, con, *at, "aggregate"))


def _check_aggregates(aggregates: dict[str, str], con: duckdb.DuckDBPyConnection, *at: str) -> dict[str, str]:
    for name, expression in aggregates.items():
        if not _INPUT_NAME.fullmatch(name):
            raise Invalid("aggregate names are lower-case words (letters, digits and _)", *at, name)
        if not expression.strip():
            raise Invalid("must be an aggregate SQL expression, e.g. sum(price)", *at, name)
        _sql(parse_expression, con, expression, *at, name)
    return {name: expression.strip() for name, expression in aggregates.items()}


def _check_hints(hints: ParseHints, con: duckdb.DuckDBPyConnection) -> ParseHints:
    for index, fmt in enumerate(hints.date_formats):
        _sql(check_date_format, con, fmt, "parse", "date_formats", index)
    return replace(hints, column_types=_check_column_types(hints.column_types, con, "parse", "column_types"))


def _check_column_types(types: dict[str, str], con: duckdb.DuckDBPyConnection, *at: str) -> dict[str, str]:
    for column, type_name in types.items():
        _sql(check_type, con, type_name, *at, column)
    return {column: type_name.strip().upper() for column, type_name in types.items()}


def _check_mapping(
    mapping: dict[str, str], entity: Entity, con: duckdb.DuckDBPyConnection
) -> tuple[dict[str, str], list[ParsedExpression]]:
    parsed = []
    for name, value in mapping.items():
        _check_field(name, entity, "mapping")
        if not value.strip():
            raise Invalid(
                "must be an export column name or a SQL expression over the export columns", "mapping", name
            )
        parsed.append(_sql(parse_expression, con, value, "mapping", name))
    return {name: value.strip() for name, value in mapping.items()}, parsed


def _check_defaults(defaults: dict[str, object], entity: Entity) -> dict[str, str]:
    checked = {}
    for name, value in defaults.items():
        _check_field(name, entity, "defaults")
        if isinstance(value, Mapping | list) or value is None:
            raise Invalid("must be a single value (text, number, date or true/false)", "defaults", name)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        allowed = rules.allowed_values(entity, name)
        if allowed and rules.normalise_code(name, text) not in allowed:
            raise Invalid(f"{text!r} is not {rules.describe_allowed(entity, name)}", "defaults", name)
        checked[name] = text
    return checked


def _check_values(
    values: dict[str, ValueMapping], entity: Entity, con: duckdb.DuckDBPyConnection
) -> tuple[dict[str, ValueMapping], list[ParsedExpression]]:
    checked: dict[str, ValueMapping] = {}
    parsed: list[ParsedExpression] = []
    for name, mapping in values.items():
        allowed = rules.allowed_values(entity, name)
        if allowed is None:
            enumerated = ", ".join(rules.ALLOWED_VALUES[entity.name])
            raise Invalid(f"value mappings apply to enumerated fields only: {enumerated}", "values", name)
        described = rules.describe_allowed(entity, name)
        value_map = {}
        for source, target in mapping.map.items():
            canonical = rules.normalise_code(name, target)
            if canonical not in allowed:
                raise Invalid(f"maps to {target!r}, which is not {described}", "values", name, "map", source)
            value_map[rules.normalise_code(name, source)] = canonical
        value_rules = []
        for index, rule in enumerate(mapping.rules):
            then = rules.normalise_code(name, rule.then)
            if then not in allowed:
                raise Invalid(f"{then!r} is not {described}", "values", name, "rules", index, "then")
            parsed.append(_sql(parse_expression, con, rule.when, "values", name, "rules", index, "when"))
            value_rules.append(ValueRule(when=rule.when, then=then))
        checked[name] = ValueMapping(map=value_map, rules=tuple(value_rules))
    return checked, parsed


def _check_interval_column(name: str, entity: Entity) -> str:
    temporal = [f.name for f in entity.fields if rules.is_temporal(f)]
    if name not in temporal:
        raise Invalid(f"{name!r} is not one of the date fields: {', '.join(temporal)}", "interval_column")
    return name


def _check_field(name: str, entity: Entity, section: str) -> None:
    if name not in entity.columns:
        raise Invalid(f"not a field of {entity.name}; fields: {', '.join(entity.columns)}", section, name)
