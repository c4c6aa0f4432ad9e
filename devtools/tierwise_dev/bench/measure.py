"""Run one benchmark stage in a child process and measure its wall time and peak memory.

Each stage gets a fresh interpreter so that its peak RSS is its own: ``getrusage(RUSAGE_CHILDREN)``
keeps a running maximum over every child the bench ever had, so instead the child is reaped with
``os.wait4``, which returns the rusage of that one child (and of the descendants it waited for).
Processes that live side by side (Airflow's task runners next to ``airflow dags test``) are not
added up by the kernel, so the process tree is also sampled from ``/proc`` and the largest sum kept.
A server the stage works through but did not start (the local Spark Connect server, a JVM that
outlives every stage) is outside that tree: its processes are added to each sample and their own
largest sum is kept as well (``peak_servers_mb``). A child that still has its parent's memory
(between fork and exec) is counted once, with its parent.

The kernel carries the parent's high-water mark into a child's ``ru_maxrss`` at ``exec`` (the child
starts on the parent's memory map), so a child of a big parent reports the parent's peak. Such a
figure (not above the parent's own peak) is replaced by the child's ``VmHWM``, sampled from
``/proc`` while it runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.25
FORKED_NO_EXEC = 0x40
"""PF_FORKNOEXEC in a process's flags (``/proc/PID/stat``): forked, not yet exec'd."""
SAME_SIZE = 0.05
"""A forked child whose virtual size is within 5% of its parent's is still a copy of it."""
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


@dataclass(frozen=True)
class Measurement:
    """What one stage cost. ``work_s`` is the time the stage reported itself (no interpreter start).

    ``peak_tree_rss_mb`` includes the servers' processes; ``peak_servers_mb`` is theirs alone.
    """

    wall_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    ok: bool
    work_s: float | None = None
    peak_servers_mb: float | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_mb(self) -> float:
        return max(self.peak_rss_mb, self.peak_tree_rss_mb)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["peak_mb"] = round(self.peak_mb, 1)
        return data


@dataclass(frozen=True)
class _Processes:
    """Every process's parent, flags and virtual size, and the children of each, from ``/proc``."""

    parent: dict[int, tuple[int, int, int]]
    children: dict[int, list[int]]


def _processes() -> _Processes:
    parent: dict[int, tuple[int, int, int]] = {}
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue  # the process ended while we looked
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        ppid, flags, vsize = int(fields[1]), int(fields[6]), int(fields[20])
        parent[int(entry.name)] = (ppid, flags, vsize)
        children.setdefault(ppid, []).append(int(entry.name))
    return _Processes(parent, children)


def _copy_of_parent(pid: int, processes: _Processes) -> bool:
    """True for a child that still has its parent's memory: between fork/vfork and exec (a JVM
    spawns ``chmod`` for every file Hadoop writes), its RSS is the parent's, counted once. The
    sizes are read a moment apart and a JVM's changes all the time, hence the tolerance."""
    ppid, flags, vsize = processes.parent.get(pid, (0, 0, 0))
    parent_vsize = processes.parent.get(ppid, (0, 0, 0))[2]
    return (
        bool(flags & FORKED_NO_EXEC)
        and parent_vsize > 0
        and abs(vsize - parent_vsize) <= SAME_SIZE * parent_vsize
    )


def _rss_bytes(pid: int) -> int:
    try:
        resident_pages = Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()[1]
    except (OSError, IndexError):
        return 0
    return int(resident_pages) * PAGE_BYTES


def high_water_mb(pid: int) -> float:
    """The peak resident memory of a process's current memory map (VmHWM), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


Servers = Callable[[], Iterable[int]]
"""The process ids of the servers a stage works through, asked again at every sample."""


def _tree(roots: list[int], processes: _Processes) -> set[int]:
    """The roots and their descendants, without the children that share a parent's memory."""
    found: set[int] = set()
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(processes.children.get(pid, ()))
    return {pid for pid in found if pid in roots or not _copy_of_parent(pid, processes)}


def _sum_mb(pids: Iterable[int]) -> float:
    return sum(_rss_bytes(pid) for pid in pids) / MB


def tree_rss_mb(root: int, servers: Iterable[int] = ()) -> tuple[float, float]:
    """Resident memory of a process, its descendants and the servers' process trees, summed
    (each process once), and that of the servers' trees alone."""
    processes = _processes()
    theirs = _tree(list(servers), processes)
    return _sum_mb(_tree([root], processes) | theirs), _sum_mb(theirs)


def _own_peak(maxrss_mb: float, sampled_hwm_mb: float, parent_hwm_mb: float) -> float:
    """The child's peak: ru_maxrss unless it may be the parent's peak inherited at exec."""
    return maxrss_mb if maxrss_mb > parent_hwm_mb else sampled_hwm_mb


@dataclass
class _Peaks:
    own: float = 0.0
    tree: float = 0.0
    servers: float = 0.0


def _wait(
    proc: subprocess.Popen[bytes], timeout_s: float, servers: Servers | None
) -> tuple[int, _Peaks, bool]:
    """Poll until the child exits: (exit code, its peaks in MB, timed out)."""
    deadline = time.monotonic() + timeout_s
    parent_hwm = high_water_mb(os.getpid())
    peaks, hwm = _Peaks(), 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        timed_out = pid != proc.pid and time.monotonic() > deadline
        if timed_out:
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
        if pid == proc.pid or timed_out:
            # Popen must not try to reap the child again.
            proc.returncode = os.waitstatus_to_exitcode(status)
            peaks.own = _own_peak(usage.ru_maxrss / 1024, hwm, parent_hwm)
            return proc.returncode, peaks, timed_out
        tree, theirs = tree_rss_mb(proc.pid, servers() if servers else ())
        peaks.tree, peaks.servers = max(peaks.tree, tree), max(peaks.servers, theirs)
        hwm = max(hwm, high_water_mb(proc.pid))
        time.sleep(SAMPLE_SECONDS)


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _read_result(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def run_measured(
    command: Sequence[str],
    *,
    env: dict[str, str],
    log_file: Path,
    result_file: Path,
    timeout_s: float,
    servers: Servers | None = None,
) -> Measurement:
    """Run ``command`` (which may write a JSON result to ``result_file``) and measure it, with
    the memory of the ``servers`` it works through."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    started = time.perf_counter()
    with log_file.open("w", encoding="utf-8") as log:
        # A session of its own, so a timeout can stop the stage's whole process group.
        proc = subprocess.Popen(
            list(command), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        code, peaks, timed_out = _wait(proc, timeout_s, servers)
    wall = time.perf_counter() - started
    result = _read_result(result_file)
    ok = code == 0 and not timed_out
    if timed_out:
        note = f"stopped after {timeout_s:.0f}s (time limit)"
    elif not ok:
        note = f"exit code {code}; log {log_file}:\n{_tail(log_file)}"
    else:
        note = str(result.get("note", ""))
    return Measurement(
        wall_s=round(wall, 3),
        peak_rss_mb=round(peaks.own, 1),
        peak_tree_rss_mb=round(peaks.tree, 1),
        ok=ok,
        work_s=result.get("elapsed"),
        peak_servers_mb=round(peaks.servers, 1) if servers else None,
        note=note,
        details=result.get("details", {}),
    )


def skipped(note: str) -> dict[str, Any]:
    """The JSON entry of a stage that did not run, with the reason."""
    return {"skipped": True, "ok": True, "note": note}
