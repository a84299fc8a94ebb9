"""Run one benchmark path in its own process and measure it: wall time, peak memory, its own result.

Peak memory is taken two ways and the larger is kept. ``os.wait4`` gives the child's ``ru_maxrss``
(the largest single process among it and the children it waited for), and a sampler thread sums the
resident set of the whole process tree from ``/proc`` every few milliseconds, which is what matters
when a path runs worker processes side by side (dlt's normalize pool). A worker reports its own
result as one JSON object on the last line of its stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.02


class PathFailed(RuntimeError):
    """A measured process exited non-zero."""


@dataclass
class Measurement:
    """One run of one path."""

    wall_seconds: float  # the process, from start to exit
    peak_rss_bytes: int  # the larger of ru_maxrss and the sampled process-tree sum
    maxrss_bytes: int  # ru_maxrss alone (largest single process)
    tree_peak_bytes: int  # sampled sum over the process tree
    result: dict[str, Any] = field(default_factory=dict)
    load_before: float = 0.0  # the 1-minute load average as the run started: >1 means others ran too

    @property
    def seconds(self) -> float:
        """The worker's own timing of its work when it reported one, else the process wall time."""
        value = self.result.get("seconds")
        return float(value) if value is not None else self.wall_seconds


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        fields = stat[stat.rindex(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss_bytes(root: int) -> int:
    """Resident bytes of ``root`` and all of its descendants right now."""
    children = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_bytes(pid)
        stack.extend(children.get(pid, ()))
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.root))
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    log_path: Path | None = None,
) -> Measurement:
    """Run ``command`` to completion and measure it; raise PathFailed (with its stderr) if it fails."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdout=out, stderr=err, env=dict(env) if env else None, cwd=cwd
        )
        sampler = _TreeSampler(process.pid)
        sampler.start()
        # wait4, not Popen.wait: it hands back this child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        tree_peak = sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(
            f"$ {' '.join(command)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", encoding="utf-8"
        )
    if process.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-25:])
        raise PathFailed(f"{' '.join(command)} exited with {process.returncode}:\n{tail}")
    maxrss = usage.ru_maxrss * 1024  # Linux reports kilobytes
    lines = stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return Measurement(
        wall_seconds=wall,
        peak_rss_bytes=max(maxrss, tree_peak),
        maxrss_bytes=maxrss,
        tree_peak_bytes=tree_peak,
        result=result,
        load_before=load_before,
    )
