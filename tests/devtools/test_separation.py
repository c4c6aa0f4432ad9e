"""The dev tooling stays out of the runtime: no import of it from the package, not in its wheel."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "plugins" / "tierwise"


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_runtime_package_never_imports_the_dev_package() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(
            name for name in _imported_modules(path) if "tierwise_dev" in name
        )
        for path in RUNTIME.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_runtime_package_holds_no_dev_module() -> None:
    moved = ("generate", "bench", "demo.py")
    assert [name for name in moved if (RUNTIME / name).exists()] == []


def test_the_wheel_holds_the_runtime_package_only() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["plugins/tierwise"]
    assert "devtools" in wheel["dev-mode-dirs"]
    assert pyproject["project"]["scripts"]["tierwise-dev"] == "tierwise_dev.cli:entry_point"
