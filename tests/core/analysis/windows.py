"""Build measured windows from raw request outcomes, the way the router counts them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nahtlos.analysis.models import MetricsWindow, WindowStats
from nahtlos.platforms.base import RequestStats

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0)


def request_stats(latencies: Sequence[float], *, errors: int = 0, connection_errors: int = 0,
                  bounds: Sequence[float] = BOUNDS) -> RequestStats:
    """Cumulative router counters after serving ``latencies``; the first ``errors`` were 5xx."""
    ordered = np.sort(np.asarray(latencies, dtype=float))
    buckets = {b: int(np.searchsorted(ordered, b, side="right")) for b in bounds}
    return RequestStats(requests=len(ordered), status_2xx=len(ordered) - errors, status_5xx=errors,
                        connection_errors=connection_errors, latency_buckets=buckets,
                        latency_sum_seconds=float(ordered.sum()))


def window_stats(version: str, latencies: Sequence[float], *, errors: int = 0,
                 connection_errors: int = 0) -> WindowStats:
    stats = request_stats(latencies, errors=errors)
    return WindowStats(version=version, responses=len(latencies), errors=errors,
                       connection_errors=connection_errors,
                       latency_buckets={**stats.latency_buckets, math.inf: len(latencies)},
                       latency_sum_seconds=stats.latency_sum_seconds)


def window(*stats: WindowStats, module: str = "forms") -> MetricsWindow:
    return MetricsWindow(module=module, source="test", started_at=0.0, ended_at=60.0,
                         versions={s.version: s for s in stats})


def latencies(n: int, *, median: float = 0.1, seed: int) -> np.ndarray:
    """Log-normal latencies, as web requests tend to have."""
    return np.random.default_rng(seed).lognormal(mean=math.log(median), sigma=0.4, size=n)
