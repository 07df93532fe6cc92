"""Measuring windows: the provider protocol and counter arithmetic shared by every source.

A provider opens a window (``begin_window``) and closes it (``end_window``); what happened in
between is the difference of cumulative counters at both ends, for every version of the module
at once. Canary and stable are therefore always compared over the same window, never
before/after. Both providers turn their counters into ``RequestStats`` and call
``window_stats`` here, so they compute identical numbers from identical counters.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from nahtlos.analysis.models import MetricsWindow, WindowStart, WindowStats
from nahtlos.platforms.base import RequestStats


@runtime_checkable
class MetricsProvider(Protocol):
    """A source of per-version request counters (router statistics, Prometheus ...)."""

    def begin_window(self, *, module: str) -> WindowStart:
        """Mark the start of a window for every version of ``module``."""

    def end_window(self, *, start: WindowStart) -> MetricsWindow:
        """Close the window and return what each version served inside it."""


def window_stats(*, version: str, start: RequestStats | None, end: RequestStats) -> WindowStats:
    """What ``version`` served between two counter readings.

    A version that started inside the window has no start reading (all zero). Counters that
    went down mean the version restarted (or its router did): the end reading then counts from
    that restart, which under-counts rather than invents traffic.

    Latency: the histogram holds every request (``requests``); without a +Inf bucket the
    requests above the highest bound are those not yet counted by it. A source that leaves
    ``requests`` at 0 has its responses counted instead.
    """
    if start is None or _was_reset(start, end):
        start = RequestStats()
    delta = {field: getattr(end, field) - getattr(start, field)
             for field in ("status_2xx", "status_3xx", "status_4xx", "status_5xx", "connection_errors")}
    responses = delta["status_2xx"] + delta["status_3xx"] + delta["status_4xx"] + delta["status_5xx"]
    buckets = {le: count - start.latency_buckets.get(le, 0) for le, count in end.latency_buckets.items()}
    if math.inf not in end.latency_buckets:
        buckets[math.inf] = (end.requests - start.requests) or responses
    return WindowStats(version=version, responses=responses, errors=delta["status_5xx"],
                       client_errors=delta["status_4xx"], connection_errors=delta["connection_errors"],
                       latency_buckets=buckets, latency_sum_seconds=end.latency_sum_seconds - start.latency_sum_seconds)


def _was_reset(start: RequestStats, end: RequestStats) -> bool:
    counters = ("requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx", "connection_errors",
                "latency_sum_seconds")
    if any(getattr(end, c) < getattr(start, c) for c in counters):
        return True
    return any(end.latency_buckets.get(le, 0) < count for le, count in start.latency_buckets.items())


def build_window(*, start: WindowStart, ended_at: float, source: str,
                 readings_at_start: dict[str, RequestStats], readings_at_end: dict[str, RequestStats]) -> MetricsWindow:
    """A window over every version seen at the end (a version gone by then served nothing we can judge)."""
    versions = {version: window_stats(version=version, start=readings_at_start.get(version), end=end)
                for version, end in readings_at_end.items()}
    return MetricsWindow(module=start.module, source=source, started_at=start.started_at, ended_at=ended_at,
                         versions=versions)
