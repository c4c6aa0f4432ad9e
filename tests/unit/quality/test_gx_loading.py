"""GX loaded once per process, without the plotting and statistics modules no suite uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tierwise.quality.gx_loading import forget_contexts, gx_context
from tierwise.quality.project import GX_DIR, register_data_source_types

COMMITTED = Path(__file__).resolve().parents[3] / "expectations" / GX_DIR
_PROBE = """
import sys
from tierwise.quality.gx_loading import LAZY_MODULES, import_gx
gx = import_gx()
print(all(name in sys.modules for name in LAZY_MODULES), "scipy.stats._stats_py" in sys.modules)
from scipy import stats
print(round(float(stats.entropy([1, 2], [2, 1])), 4), "scipy.stats._stats_py" in sys.modules)
"""


def test_gx_imports_altair_and_scipy_stats_only_when_they_are_used() -> None:
    # A fresh interpreter: this one may have imported GX already.
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.split() == ["True", "False", "0.231", "True"]


def test_the_context_is_loaded_once_per_project_until_its_config_changes(tmp_path: Path) -> None:
    shutil.copytree(COMMITTED, tmp_path / GX_DIR, ignore=shutil.ignore_patterns("uncommitted"))
    register_data_source_types()
    forget_contexts()
    try:
        first = gx_context(tmp_path)
        assert gx_context(tmp_path / ".") is first
        config = tmp_path / GX_DIR / "great_expectations.yml"
        stat = config.stat()
        os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert gx_context(tmp_path) is not first
    finally:
        forget_contexts()
