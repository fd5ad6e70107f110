"""Summaries of latency samples: percentiles as the report quotes them."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolated linearly between closest ranks as numpy does."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile out of range: {q}")
    return float(numpy.percentile(samples, q))


def latency_summary(seconds: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50/p95/p99, mean and max in milliseconds; None for each when nothing was measured."""
    keys = ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")
    if not seconds:
        return {"count": 0, **{k: None for k in keys}}
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "mean_ms": round(sum(ms) / len(ms), 1),
        "max_ms": round(max(ms), 1),
    }


def ratio(ours: Optional[float], theirs: Optional[float]) -> Optional[float]:
    """ours / theirs, or None when either is missing or the divisor is zero."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs, 2)
