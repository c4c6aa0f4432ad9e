"""One way to read Tierwise's YAML files (source configs, thresholds, publish settings).

The shapes are pydantic dataclasses: pydantic checks types and keys, and callers keep
``dataclasses.replace``/``asdict``. What stays hand-written is the wording: pydantic names
neither the file nor the key the way users write it, so its first error becomes one
:class:`ConfigError` reading ``<file>: <key.path>: <what was expected>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails

from tierwise.exceptions import ConfigError

T = TypeVar("T")

# YAML reads `delimiter: 1` or `name: 2024` as numbers; they are meant as text.
CONFIG = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class Invalid(ValueError):
    """A problem found by our own checks, ``at`` keys below the one being checked.

    A ValueError, so that pydantic reports it from a validator at the validated key; code that
    checks after pydantic (SQL, entity fields) raises it with the full key path.
    """

    def __init__(self, problem: str, *at: str | int) -> None:
        super().__init__(problem)
        self.problem, self.at = problem, at


@dataclass(frozen=True, config=CONFIG)
class Section:
    """Base of every mapping in a config file: an unknown key is named, an empty one means its default."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        known = sorted(field.name for field in dataclasses.fields(cls))
        for key in data:
            if key not in known:
                raise Invalid(f"unknown key; expected one of: {', '.join(known)}", str(key))
        return {key: value for key, value in data.items() if value is not None}


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | int | float) and not isinstance(value, bool) else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise Invalid("must not be empty")
    return value


Flag = Annotated[bool, Strict()]
Whole = Annotated[int, Strict()]
Count = Annotated[int, Strict(), Field(ge=0)]
Number = Annotated[float, Strict()]
"""A float, written with or without decimals; never text or true/false."""
TextList = Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]
"""A list of strings; a single string is a list of one."""
NonBlank = Annotated[str, AfterValidator(_not_blank)]


def read_yaml(path: Path, what: str) -> Any:
    """The parsed file; an empty file is an empty mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: cannot read {what}: file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read {what}: {error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: cannot read {what}: not valid YAML ({error})") from None
    return {} if data is None else data


def load(kind: type[T], path: Path, what: str) -> T:
    """Read ``path`` into ``kind``; every problem is a ConfigError naming the file and the key."""
    with errors_named(str(path)):
        return TypeAdapter(kind).validate_python(read_yaml(path, what))


@contextmanager
def errors_named(origin: str) -> Iterator[None]:
    """Turn pydantic's first error, or an :class:`Invalid` raised by later checks, into a ConfigError."""
    try:
        yield
    except ValidationError as error:
        raise ConfigError(_describe(origin, error.errors()[0])) from None
    except Invalid as error:
        raise ConfigError(f"{origin}: {key_path(error.at)}: {error.problem}") from None


def key_path(parts: Sequence[str | int]) -> str:
    """``("values", "status", "rules", 0, "when")`` -> ``values.status.rules[0].when``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text or "<top level>"


_EXPECTED = {
    "missing": "is required",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be a string",
    "dataclass_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "mapping_type": "must be a mapping",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "date_type": "must be an ISO date (YYYY-MM-DD)",
    "date_parsing": "must be an ISO date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be an ISO date (YYYY-MM-DD)",
    "path_type": "must be a path",
}
_BOUNDS = {"greater_than_equal": ("ge", ">="), "less_than_equal": ("le", "<="), "greater_than": ("gt", ">")}


def _describe(origin: str, error: ErrorDetails) -> str:
    at = [part for part in error["loc"] if part != "[key]"]
    value, kind, ctx = error.get("input"), error["type"], error.get("ctx", {})
    problem = _EXPECTED.get(kind)
    if kind == "value_error" and isinstance(ctx.get("error"), Invalid):
        at += ctx["error"].at
        problem = ctx["error"].problem
    elif kind == "value_error":
        problem = str(ctx["error"])
    elif kind == "literal_error":
        problem = f"{value!r} is not one of: {ctx['expected']}"
    elif kind in _BOUNDS:
        name, sign = _BOUNDS[kind]
        number = "a whole number" if isinstance(value, int) else "a number"
        problem = f"must be {number} {sign} {ctx[name]}, got {_shown(value)}"
    elif problem is None:
        problem = error["msg"]
    elif kind != "missing":
        problem = f"{problem}, got {_shown(value)}"
    return f"{origin}: {key_path(at)}: {problem}"


def _shown(value: Any) -> str:
    if isinstance(value, Mapping | list):
        return "a mapping" if isinstance(value, Mapping) else "a list"
    return "nothing" if value is None else repr(value)
