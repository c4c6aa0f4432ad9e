"""Headless Chromium for the tests that look at a page: Debian's ``chromium`` package.

The package is installed on first use where the tests run as root with apt (CI's machine);
elsewhere a test that needs it is skipped with the reason. Chromium's own command line is
enough for what the tests check (the rendered DOM and a screenshot), so no driver library is
added to the lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

PACKAGES = ("chromium", "chromium-driver")
_lock = threading.Lock()


def _install() -> str | None:
    """Install Debian's chromium; None when done, else why it could not be."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "Debian's chromium is not installed and apt-get cannot be run here (needs root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0 and command[1] == "install":
            return f"`apt-get install {' '.join(PACKAGES)}` failed: {done.stderr.strip()[-300:]}"
    return None


def chromium_path() -> str:
    """The chromium binary, installing it once if needed; skips the test when it cannot be had."""
    with _lock:
        found = shutil.which("chromium")
        if found is None:
            problem = _install()
            found = shutil.which("chromium")
            if found is None:
                pytest.skip(f"headless Chromium unavailable: {problem or 'not found after install'}")
    return found


def _command(*options: str) -> list[str]:
    return [
        chromium_path(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        *options,
    ]


def dump_dom(url: str, *, wait_ms: int = 5000) -> str:
    """The page's DOM after its scripts ran for ``wait_ms`` of virtual time."""
    done = subprocess.run(
        _command(f"--virtual-time-budget={wait_ms}", "--dump-dom", url),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def screenshot(url: str, path: Path, *, width: int = 1280, height: int = 2400, wait_ms: int = 3000) -> Path:
    """A PNG of the page at ``url``."""
    subprocess.run(
        _command(
            f"--window-size={width},{height}",
            f"--virtual-time-budget={wait_ms}",
            f"--screenshot={path}",
            url,
        ),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return path
