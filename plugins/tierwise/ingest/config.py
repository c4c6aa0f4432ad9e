"""Declarative source configs: one YAML file per export, validated on load.

Every problem is a :class:`~tierwise.exceptions.ConfigError` that names the file,
the key and what is wrong, e.g. ``orders.yml: format.delimiter: must be 1 to 4
characters``. The format is documented with a full example in docs/ingestion.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import yaml  # type: ignore[import-untyped]  # no stubs in the dev group

from tierwise.exceptions import ConfigError
from tierwise.ingest import rules
from tierwise.ingest.sql import ParsedExpression, check_date_format, check_type, parse_expression
from tierwise.schema import ENTITIES, Entity

FORMATS = ("csv", "parquet", "jsonl")
ENCODINGS = ("utf-8", "utf-16", "latin-1")
COMPRESSIONS = ("auto", "none", "gzip", "zstd")
EMPTY_FILE_POLICIES = ("error", "skip")
DUPLICATE_POLICIES = ("quarantine", "keep")
_INPUT_NAME = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_DATE_PATTERN = r"(\d{4}-\d{2}-\d{2})"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_KEYS = ("key_id", "secret", "access_key", "secret_key", "session_token", "password", "endpoint")


@dataclass(frozen=True)
class S3Options:
    """Where the S3 (or S3-compatible) connection settings come from: environment variable names only."""

    endpoint_env: str = "AWS_ENDPOINT_URL"
    region_env: str = "AWS_REGION"
    key_id_env: str = "AWS_ACCESS_KEY_ID"
    secret_env: str = "AWS_SECRET_ACCESS_KEY"
    session_token_env: str = "AWS_SESSION_TOKEN"
    url_style: str = "vhost"
    use_ssl: bool = True


@dataclass(frozen=True)
class FileOptions:
    pattern: str
    date_pattern: str = DEFAULT_DATE_PATTERN
    date_format: str = "%Y-%m-%d"
    empty_files: str = "error"
    s3: S3Options = field(default_factory=S3Options)


@dataclass(frozen=True)
class FormatOptions:
    type: str = "csv"
    delimiter: str = ","
    header: bool = True
    quote: str = '"'
    escape: str = '"'
    encoding: str = "utf-8"
    compression: str = "auto"
    columns: tuple[str, ...] = ()
    skip_rows: int = 0


@dataclass(frozen=True)
class ParseHints:
    date_formats: tuple[str, ...] = ()
    decimal_separator: str = "."
    thousands_separator: str = ""
    currency_symbols: tuple[str, ...] = ("£", "€", "$")
    float_ids: bool = False
    column_types: dict[str, str] = field(default_factory=dict)
    true_values: tuple[str, ...] = rules.DEFAULT_TRUE_VALUES
    false_values: tuple[str, ...] = rules.DEFAULT_FALSE_VALUES


@dataclass(frozen=True)
class ValueRule:
    when: str
    then: str


@dataclass(frozen=True)
class ValueMapping:
    map: dict[str, str] = field(default_factory=dict)
    rules: tuple[ValueRule, ...] = ()


@dataclass(frozen=True)
class JoinSpec:
    """How an input joins the grain: by key, one row per key, or aggregated per key."""

    on: tuple[tuple[str, str], ...]
    """(column of this input, SQL over the grain and the inputs joined before it)."""
    aggregate: dict[str, str] = field(default_factory=dict)
    """Name -> aggregate expression over this input's columns; empty: a lookup of one row per key."""


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class SourceConfig:
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


def load_source_config(path: Path) -> SourceConfig:
    """Read and validate one source config file."""
    origin = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{origin}: file not found") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{origin}: not valid YAML ({error})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: must be a mapping of keys (name, entity, files, ...)")
    return parse_source_config(data, origin=origin, default_name=path.stem)


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
    top = _Reader(origin, data, "", _TOP_KEYS)
    entity_name = top.text("entity", required=True, choices=tuple(ENTITIES)) or ""
    entity = ENTITIES[entity_name]
    con = duckdb.connect()
    try:
        hints = _parse_hints(top.section("parse", _PARSE_KEYS), con)
        mapping, parsed = _parse_mapping(top.section("mapping", None), entity, con)
        values, rule_exprs = _parse_values(top.section("values", None), entity, con)
        inputs = _parse_inputs(top, con)
    finally:
        con.close()
    referenced = frozenset().union(*(p.columns for p in [*parsed, *rule_exprs]))
    grain = inputs[0] if inputs else None
    return SourceConfig(
        name=top.text("name") or default_name,
        entity=entity_name,
        files=grain.files if grain else _parse_files(top.section("files", _FILE_KEYS, required=True)),
        format=grain.format if grain else _parse_format(top.section("format", _FORMAT_KEYS)),
        parse=replace(hints, column_types={**hints.column_types, **grain.column_types}) if grain else hints,
        duplicates=top.text("duplicates", choices=DUPLICATE_POLICIES) or "quarantine",
        inputs=inputs,
        mapping=mapping,
        defaults=_parse_defaults(top.section("defaults", None), entity),
        values=values,
        ignore_columns=tuple(top.text_list("ignore_columns")),
        interval_column=_parse_interval_column(top, entity),
        description=top.text("description") or "",
        origin=origin,
        referenced_columns=referenced | {name.lower() for name in hints.column_types},
    )


_TOP_KEYS = frozenset(
    {
        "name",
        "entity",
        "description",
        "files",
        "format",
        "parse",
        "mapping",
        "defaults",
        "values",
        "ignore_columns",
        "interval_column",
        "duplicates",
        "inputs",
        "grain",
    }
)
_INPUT_KEYS = frozenset({"files", "format", "column_types", "join", "lookup"})
_JOIN_KEYS = frozenset({"on", "aggregate"})
_FILE_KEYS = frozenset({"pattern", "date_pattern", "date_format", "empty_files", "s3"})
_FORMAT_KEYS = frozenset(
    {"type", "delimiter", "header", "quote", "escape", "encoding", "compression", "columns", "skip_rows"}
)
_PARSE_KEYS = frozenset(
    {
        "date_formats",
        "decimal_separator",
        "thousands_separator",
        "currency_symbols",
        "float_ids",
        "column_types",
        "true_values",
        "false_values",
    }
)
_S3_KEYS = frozenset({f.name for f in S3Options.__dataclass_fields__.values()})


class _Reader:
    """Typed access to one mapping of the YAML file; every error names file and key."""

    def __init__(self, origin: str, data: Any, prefix: str, allowed: frozenset[str] | None) -> None:
        self.origin, self.prefix = origin, prefix
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.error("", f"must be a mapping, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        unknown = sorted(str(key) for key in data if allowed is not None and key not in allowed)
        if unknown:
            expected = ", ".join(sorted(allowed or ()))
            raise self.error(unknown[0], f"unknown key; expected one of: {expected}")

    def error(self, key: str, message: str) -> ConfigError:
        where = f"{self.prefix}{key}".rstrip(".") or "<top level>"
        return ConfigError(f"{self.origin}: {where}: {message}")

    def section(self, key: str, allowed: frozenset[str] | None, *, required: bool = False) -> _Reader:
        if required and key not in self.data:
            raise self.error(key, "is required")
        return _Reader(self.origin, self.data.get(key), f"{self.prefix}{key}.", allowed)

    def text(self, key: str, *, required: bool = False, choices: tuple[str, ...] = ()) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(key, "is required")
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.error(key, f"must be a string, got {type(value).__name__}")
        text = str(value)
        if choices and text not in choices:
            raise self.error(key, f"{text!r} is not one of: {', '.join(choices)}")
        return text

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def count(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(key, f"must be a whole number >= 0, got {value!r}")
        return value

    def text_list(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            raise self.error(key, "must be a list of strings")
        return tuple(str(v) for v in value)

    def items(self) -> list[tuple[str, Any]]:
        return [(str(key), value) for key, value in self.data.items()]


def _parse_inputs(top: _Reader, con: duckdb.DuckDBPyConnection) -> tuple[InputConfig, ...]:
    """A multi-file source's file sets, the grain first (docs/ingestion.md, "Multi-file exports")."""
    if top.data.get("inputs") is None:
        if "grain" in top.data:
            raise top.error("grain", "applies only to a source with inputs")
        return ()
    if "files" in top.data:
        raise top.error("files", "a source has either files (one file set) or inputs (several), not both")
    section = top.section("inputs", None)
    names = [name for name, _ in section.items()]
    if not names:
        raise section.error("", "name at least one file set")
    grain = top.text("grain") or names[0]
    if grain not in names:
        raise top.error("grain", f"{grain!r} is not one of the inputs: {', '.join(names)}")
    default_format = top.data.get("format") or {}
    parsed: list[InputConfig] = []
    for name in [grain, *(n for n in names if n != grain)]:
        if not _INPUT_NAME.fullmatch(name):
            raise section.error(name, "input names are lower-case words (letters, digits and _)")
        parsed.append(_parse_input(section, name, grain, [i.name for i in parsed], default_format, con))
    return tuple(parsed)


def _parse_input(
    section: _Reader,
    name: str,
    grain: str,
    before: list[str],
    default_format: Any,
    con: duckdb.DuckDBPyConnection,
) -> InputConfig:
    reader = section.section(name, _INPUT_KEYS)
    own_format = reader.data.get("format") or {}
    if not isinstance(own_format, Mapping) or not isinstance(default_format, Mapping):
        raise reader.error("format", "must be a mapping")
    fmt = _Reader(reader.origin, {**default_format, **own_format}, f"{reader.prefix}format.", _FORMAT_KEYS)
    if name == grain and "join" in reader.data:
        raise reader.error("join", f"{name} is the grain (one canonical row per row of it): it joins nothing")
    if name != grain and "join" not in reader.data:
        raise reader.error("join", f"is required: how the rows of {name} relate to {grain} (on: <column>)")
    return InputConfig(
        name=name,
        files=_parse_files(reader.section("files", _FILE_KEYS, required=True)),
        format=_parse_format(fmt),
        column_types=_parse_column_types(reader.section("column_types", None), con),
        join=None if name == grain else _parse_join(_join_reader(reader), grain, before, con),
        lookup=reader.flag("lookup", False),
    )


def _join_reader(reader: _Reader) -> _Reader:
    raw = reader.data.get("join")
    if isinstance(raw, Mapping) and True in raw:
        # YAML 1.1 reads an unquoted `on` key as the boolean true.
        raw = {("on" if key is True else key): value for key, value in raw.items()}
    return _Reader(reader.origin, raw, f"{reader.prefix}join.", _JOIN_KEYS)


def _parse_join(reader: _Reader, grain: str, before: list[str], con: duckdb.DuckDBPyConnection) -> JoinSpec:
    raw = reader.data.get("on")
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        pairs = [(column, f"{grain}.{column}") for column in raw]
    elif isinstance(raw, Mapping) and raw:
        pairs = [(str(column), str(other)) for column, other in raw.items()]
    else:
        raise reader.error(
            "on", "is required: a column (same name in the grain), a list, or {column: input.column}"
        )
    for column, other in pairs:
        try:
            parsed = parse_expression(con, other)
        except ValueError as error:
            raise reader.error(f"on.{column}", str(error)) from None
        unknown = sorted(parsed.qualifiers - set(before))
        if unknown or not parsed.qualifiers:
            raise reader.error(
                f"on.{column}",
                f"{other!r} must name its input, one joined before this one: {', '.join(before)} "
                f"(e.g. {grain}.{column})",
            )
    return JoinSpec(on=tuple(pairs), aggregate=_parse_aggregates(reader.section("aggregate", None), con))


def _parse_aggregates(reader: _Reader, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    aggregates = {}
    for name, expression in reader.items():
        if not _INPUT_NAME.fullmatch(name):
            raise reader.error(name, "aggregate names are lower-case words (letters, digits and _)")
        if not isinstance(expression, str) or not expression.strip():
            raise reader.error(name, "must be an aggregate SQL expression, e.g. sum(price)")
        try:
            parse_expression(con, expression)
        except ValueError as error:
            raise reader.error(name, str(error)) from None
        aggregates[name] = expression.strip()
    return aggregates


def _parse_files(reader: _Reader) -> FileOptions:
    pattern = reader.text("pattern", required=True) or ""
    if not pattern.strip():
        raise reader.error("pattern", "must not be empty")
    date_pattern = reader.text("date_pattern") or DEFAULT_DATE_PATTERN
    try:
        if re.compile(date_pattern).groups != 1:
            raise reader.error("date_pattern", "must have exactly one (group) around the date")
    except re.error as error:
        raise reader.error("date_pattern", f"not a regular expression ({error})") from None
    return FileOptions(
        pattern=pattern,
        date_pattern=date_pattern,
        date_format=reader.text("date_format") or "%Y-%m-%d",
        empty_files=reader.text("empty_files", choices=EMPTY_FILE_POLICIES) or "error",
        s3=_parse_s3(reader),
    )


def _parse_s3(files: _Reader) -> S3Options:
    raw = files.data.get("s3")
    if isinstance(raw, Mapping):
        for key in raw:
            if key in _SECRET_KEYS:
                raise files.error(
                    f"s3.{key}",
                    f"connection settings come from environment variables only: use {key}_env "
                    "with the name of the variable",
                )
    reader = files.section("s3", _S3_KEYS)
    defaults = S3Options()
    names = {}
    for key in ("endpoint_env", "region_env", "key_id_env", "secret_env", "session_token_env"):
        name = reader.text(key) or getattr(defaults, key)
        if not _ENV_NAME.fullmatch(name):
            raise reader.error(key, f"{name!r} is not an environment variable name")
        names[key] = name
    return S3Options(
        **names,
        url_style=reader.text("url_style", choices=("vhost", "path")) or "vhost",
        use_ssl=reader.flag("use_ssl", True),
    )


def _parse_format(reader: _Reader) -> FormatOptions:
    kind = reader.text("type", choices=FORMATS) or "csv"
    delimiter = reader.text("delimiter")
    delimiter = "," if delimiter is None else delimiter
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if not 1 <= len(delimiter.encode()) <= 4:
        raise reader.error("delimiter", f"must be 1 to 4 bytes, got {delimiter!r}")
    quote = reader.text("quote")
    quote = '"' if quote is None else quote
    escape = reader.text("escape")
    if len(quote) > 1 or (escape is not None and len(escape) > 1):
        raise reader.error("quote" if len(quote) > 1 else "escape", "must be a single character or empty")
    header = reader.flag("header", True)
    columns = reader.text_list("columns")
    return FormatOptions(
        type=kind,
        delimiter=delimiter,
        header=header,
        quote=quote,
        escape=quote if escape is None else escape,
        encoding=(reader.text("encoding", choices=(*ENCODINGS, "utf8", "latin1")) or "utf-8").replace(
            "utf8", "utf-8"
        ),
        compression=reader.text("compression", choices=COMPRESSIONS) or "auto",
        columns=columns,
        skip_rows=reader.count("skip_rows", 0),
    )


def _parse_hints(reader: _Reader, con: duckdb.DuckDBPyConnection) -> ParseHints:
    formats = reader.text_list("date_formats")
    for index, fmt in enumerate(formats):
        try:
            check_date_format(con, fmt)
        except ValueError as error:
            raise reader.error(f"date_formats[{index}]", str(error)) from None
    decimal = reader.text("decimal_separator", choices=(".", ",")) or "."
    thousands = reader.text("thousands_separator", choices=("", ",", ".", " ", "'", "\u00a0")) or ""
    if thousands == decimal:
        raise reader.error("thousands_separator", "must differ from decimal_separator")
    return ParseHints(
        date_formats=formats,
        decimal_separator=decimal,
        thousands_separator=thousands,
        currency_symbols=reader.text_list("currency_symbols", ParseHints().currency_symbols),
        float_ids=reader.flag("float_ids", False),
        column_types=_parse_column_types(reader.section("column_types", None), con),
        true_values=tuple(v.lower() for v in reader.text_list("true_values", rules.DEFAULT_TRUE_VALUES)),
        false_values=tuple(v.lower() for v in reader.text_list("false_values", rules.DEFAULT_FALSE_VALUES)),
    )


def _parse_column_types(reader: _Reader, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    types = {}
    for column, type_name in reader.items():
        if not isinstance(type_name, str):
            raise reader.error(column, "must be a DuckDB type name such as INTEGER or DECIMAL(18,4)")
        try:
            check_type(con, type_name)
        except ValueError as error:
            raise reader.error(column, str(error)) from None
        types[column] = type_name.strip().upper()
    return types


def _parse_mapping(
    reader: _Reader, entity: Entity, con: duckdb.DuckDBPyConnection
) -> tuple[dict[str, str], list[ParsedExpression]]:
    mapping, parsed = {}, []
    for name, value in reader.items():
        _check_field(reader, name, entity)
        if not isinstance(value, str) or not value.strip():
            raise reader.error(
                name, "must be an export column name or a SQL expression over the export columns"
            )
        try:
            parsed.append(parse_expression(con, value))
        except ValueError as error:
            raise reader.error(name, str(error)) from None
        mapping[name] = value.strip()
    return mapping, parsed


def _parse_defaults(reader: _Reader, entity: Entity) -> dict[str, str]:
    defaults = {}
    for name, value in reader.items():
        _check_field(reader, name, entity)
        if isinstance(value, Mapping | list) or value is None:
            raise reader.error(name, "must be a single value (text, number, date or true/false)")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        allowed = rules.allowed_values(entity, name)
        if allowed and rules.normalise_code(name, text) not in allowed:
            raise reader.error(name, f"{text!r} is not {rules.describe_allowed(entity, name)}")
        defaults[name] = text
    return defaults


def _parse_values(
    reader: _Reader, entity: Entity, con: duckdb.DuckDBPyConnection
) -> tuple[dict[str, ValueMapping], list[ParsedExpression]]:
    values: dict[str, ValueMapping] = {}
    parsed: list[ParsedExpression] = []
    for name, _ in reader.items():
        allowed = rules.allowed_values(entity, name)
        if allowed is None:
            enumerated = ", ".join(rules.ALLOWED_VALUES[entity.name])
            raise reader.error(name, f"value mappings apply to enumerated fields only: {enumerated}")
        section = reader.section(name, frozenset({"map", "rules"}))
        described = rules.describe_allowed(entity, name)
        value_map = _parse_value_map(section.section("map", None), name, allowed, described)
        value_rules = _parse_value_rules(section, name, (allowed, described), con, parsed)
        values[name] = ValueMapping(map=value_map, rules=value_rules)
    return values, parsed


def _parse_value_map(reader: _Reader, name: str, allowed: tuple[str, ...], described: str) -> dict[str, str]:
    result = {}
    for source, target in reader.items():
        canonical = rules.normalise_code(name, str(target))
        if canonical not in allowed:
            raise reader.error(source, f"maps to {target!r}, which is not {described}")
        result[rules.normalise_code(name, source)] = canonical
    return result


def _parse_value_rules(
    reader: _Reader,
    name: str,
    allowed: tuple[tuple[str, ...], str],
    con: duckdb.DuckDBPyConnection,
    parsed: list[ParsedExpression],
) -> tuple[ValueRule, ...]:
    """``allowed``: the allowed codes, and how a message names them."""
    codes, described = allowed
    raw = reader.data.get("rules") or []
    if not isinstance(raw, list):
        raise reader.error("rules", "must be a list of {when: <SQL condition>, then: <value>}")
    result = []
    for index, item in enumerate(raw):
        rule = _Reader(reader.origin, item, f"{reader.prefix}rules[{index}].", frozenset({"when", "then"}))
        when = rule.text("when", required=True) or ""
        then = rules.normalise_code(name, rule.text("then", required=True) or "")
        if then not in codes:
            raise rule.error("then", f"{then!r} is not {described}")
        try:
            parsed.append(parse_expression(con, when))
        except ValueError as error:
            raise rule.error("when", str(error)) from None
        result.append(ValueRule(when=when, then=then))
    return tuple(result)


def _parse_interval_column(reader: _Reader, entity: Entity) -> str:
    name = reader.text("interval_column") or rules.DEFAULT_INTERVAL_COLUMN
    temporal = [f.name for f in entity.fields if rules.is_temporal(f)]
    if name not in temporal:
        raise reader.error(
            "interval_column", f"{name!r} is not one of the date fields: {', '.join(temporal)}"
        )
    return name


def _check_field(reader: _Reader, name: str, entity: Entity) -> None:
    if name not in entity.columns:
        raise reader.error(name, f"not a field of {entity.name}; fields: {', '.join(entity.columns)}")
