"""Loading GX for a gate: once per process, and without the plotting and statistics it never runs.

Two fixed costs of every gate are paid here, and only once per process (``tierwise run`` and
Airflow's in-process ``dags test`` run both gates in one process):

- Importing GX. ``great_expectations.expectations`` imports every built-in expectation, and
  the KL-divergence one imports altair and ``scipy.stats`` at module level (with the KS-test
  metrics): about a third of GX's import time, for expectations no suite here uses.
  :func:`import_gx` imports GX with those two modules loaded lazily (the standard library's
  ``importlib.util.LazyLoader``): the module objects exist, and the first attribute read
  anyone makes runs them in full, so nothing changes for code that does use them.
- Loading the file context (parsing great_expectations.yml and building its stores and data
  sources). :func:`gx_context` keeps one context per project directory and reloads it when
  great_expectations.yml changes (``python -m tierwise.quality.project`` rewrote it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from tierwise.quality.project import GX_DIR

# Imported by GX at module level, used only by expectations and metrics the suites do not use.
LAZY_MODULES = ("altair", "scipy.stats")

_CONTEXTS: dict[Path, tuple[int, Any]] = {}


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds ``names`` as the other finders would, but loads them on first attribute access."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
            if spec is not None:
                return spec
        return None


@contextmanager
def _lazily(names: Sequence[str]) -> Iterator[None]:
    finder = _LazyFinder([name for name in names if name not in sys.modules])
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def import_gx() -> ModuleType:
    """``great_expectations``, imported with :data:`LAZY_MODULES` loaded on first use."""
    if "great_expectations" not in sys.modules:
        with _lazily(LAZY_MODULES):
            import great_expectations  # noqa: F401  (imported for its side effect on sys.modules)
    return sys.modules["great_expectations"]


def _config_version(project_root: Path) -> int:
    config = project_root / GX_DIR / "great_expectations.yml"
    return config.stat().st_mtime_ns if config.is_file() else 0


def gx_context(project_root: Path) -> Any:
    """The file data context of ``project_root``, loaded once per process while its config is unchanged."""
    root = project_root.resolve()
    version = _config_version(root)
    cached = _CONTEXTS.get(root)
    if cached is not None and cached[0] == version:
        return cached[1]
    context = import_gx().get_context(mode="file", project_root_dir=root)
    _CONTEXTS[root] = (version, context)
    return context


def forget_contexts() -> None:
    """Drop the cached contexts (the next gate loads its project afresh)."""
    _CONTEXTS.clear()
