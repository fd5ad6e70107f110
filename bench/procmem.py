"""Peak memory of a server and the processes it started (Sanic workers), read from Linux's /proc.

VmHWM is the kernel's own high-water mark of a process's resident memory, so one reading at
the end of the load covers the whole run without sampling. (psutil is not a dependency.)
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

PROC = Path("/proc")


def process_tree(pid: int) -> List[int]:
    """`pid` and all its descendants still alive."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in (PROC / str(current) / "task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:
                continue
    return found


def _status_kb(pid: int, key: str) -> Optional[int]:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_mb(pid: int) -> Optional[float]:
    """Sum of the peak resident memory of `pid`'s process tree in MB; None where /proc is not available."""
    peaks = [kb for kb in (_status_kb(p, "VmHWM") for p in process_tree(pid)) if kb is not None]
    if not peaks:
        return None
    return round(sum(peaks) / 1024, 1)
