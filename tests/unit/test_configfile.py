"""The shared reader of YAML config files: file problems and pydantic's errors as ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic.dataclasses import dataclass

from tierwise.configfile import CONFIG, Flag, Section, TextList, Whole, key_path, load
from tierwise.exceptions import ConfigError


@dataclass(frozen=True, config=CONFIG)
class Retries(Section):
    attempts: Whole = 3
    enabled: Flag = True


@dataclass(frozen=True, config=CONFIG)
class Example(Section):
    name: str
    retries: Retries = Retries()
    labels: TextList = ()
    steps: tuple[Retries, ...] = ()


def _load(tmp_path: Path, text: str) -> Example:
    path = tmp_path / "example.yml"
    path.write_text(text, encoding="utf-8")
    return load(Example, path, "example settings")


def test_a_valid_file_loads_with_defaults(tmp_path: Path) -> None:
    example = _load(tmp_path, "name: 2024\nlabels: one\nretries:\n  enabled:\n")
    assert example == Example(name="2024", retries=Retries(), labels=("one",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "name: is required"),
        (
            "name: x\nretries: {attempts: 2, enabeld: true}\n",
            "retries.enabeld: unknown key; expected one of: attempts, enabled",
        ),
        ("name: x\nretries: {attempts: three}\n", "retries.attempts: must be a whole number, got 'three'"),
        ("name: x\nsteps: [{}, {enabled: 'no'}]\n", "steps[1].enabled: must be true or false, got 'no'"),
        ("name: [x]\n", "name: must be a string, got a list"),
        ("- name\n", "<top level>: must be a mapping, got a list"),
    ],
)
def test_errors_name_the_file_the_key_and_what_was_expected(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    assert str(raised.value) == f"{tmp_path / 'example.yml'}: {message}"


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"example\.yml: cannot read example settings: file not found"):
        load(Example, tmp_path / "example.yml", "example settings")
    with pytest.raises(ConfigError, match="cannot read example settings: not valid YAML"):
        _load(tmp_path, "name: [x\n")


def test_key_paths_read_like_the_yaml() -> None:
    assert key_path(("values", "status", "rules", 0, "when")) == "values.status.rules[0].when"
    assert key_path(()) == "<top level>"
