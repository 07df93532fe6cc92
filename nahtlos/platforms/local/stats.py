"""Per-version request statistics kept by the router, and their Prometheus text form.

Counters only grow while a version lives. The latency histogram uses fixed
buckets (seconds) so the analysis can compare versions bucket by bucket and
Prometheus can compute quantiles with ``histogram_quantile``.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Iterable

from nahtlos.platforms.base import RequestStats

LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class VersionStats:
    """Mutable counters updated on the data path (no locks: one event loop)."""

    __slots__ = ("requests", "by_class", "connection_errors", "buckets", "latency_sum")

    def __init__(self) -> None:
        self.requests = 0
        self.by_class = [0, 0, 0, 0, 0, 0]  # index = status // 100 (1xx..5xx; 0 unused)
        self.connection_errors = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # last = above the largest bound
        self.latency_sum = 0.0

    def record(self, status: int, seconds: float) -> None:
        self.requests += 1
        self.by_class[min(max(status // 100, 0), 5)] += 1
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def cumulative(self) -> list[int]:
        total, out = 0, []
        for count in self.buckets[:-1]:
            total += count
            out.append(total)
        return out

    def to_model(self) -> RequestStats:
        return RequestStats(
            requests=self.requests,
            status_2xx=self.by_class[2], status_3xx=self.by_class[3],
            status_4xx=self.by_class[4], status_5xx=self.by_class[5],
            connection_errors=self.connection_errors,
            latency_buckets=dict(zip(LATENCY_BUCKETS, self.cumulative())),
            latency_sum_seconds=round(self.latency_sum, 6),
        )


class VersionSample:
    """What the Prometheus renderer needs about one version."""

    __slots__ = ("module", "version", "stats", "weight", "ready", "in_flight", "pinned")

    def __init__(self, module: str, version: str, stats: VersionStats, *, weight: int, ready: bool,
                 in_flight: int, pinned: int) -> None:
        self.module, self.version, self.stats = module, version, stats
        self.weight, self.ready, self.in_flight, self.pinned = weight, ready, in_flight, pinned


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_text(app: str, samples: Iterable[VersionSample]) -> str:
    """Prometheus exposition format 0.0.4 for every version the router knows."""
    samples = list(samples)
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, rows: Iterable[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{{{labels}}} {value:g}" if isinstance(value, float) else f"{name}{{{labels}}} {value}"
                     for labels, value in rows)

    def base(s: VersionSample) -> str:
        return f'app="{_escape(app)}",module="{_escape(s.module)}",version="{_escape(s.version)}"'

    family("nahtlos_requests_total", "counter", "Requests answered through the router, by status class.",
           ((f'{base(s)},code="{c}xx"', s.stats.by_class[c]) for s in samples for c in (1, 2, 3, 4, 5)))
    family("nahtlos_connection_errors_total", "counter", "Failed connections or resets talking to the version.",
           ((base(s), s.stats.connection_errors) for s in samples))
    family("nahtlos_in_flight_requests", "gauge", "Requests currently being served by the version.",
           ((base(s), s.in_flight) for s in samples))
    family("nahtlos_weight_percent", "gauge", "Configured share of new sessions.",
           ((base(s), s.weight) for s in samples))
    family("nahtlos_version_ready", "gauge", "1 when the version is ready and healthy.",
           ((base(s), int(s.ready)) for s in samples))
    family("nahtlos_pinned_sessions", "gauge", "Sessions pinned to the version.",
           ((base(s), s.pinned) for s in samples))
    name = "nahtlos_request_duration_seconds"
    lines.append(f"# HELP {name} Time from request headers to the end of the response.")
    lines.append(f"# TYPE {name} histogram")
    for s in samples:
        for bound, count in zip(LATENCY_BUCKETS, s.stats.cumulative()):
            lines.append(f'{name}_bucket{{{base(s)},le="{bound:g}"}} {count}')
        lines.append(f'{name}_bucket{{{base(s)},le="+Inf"}} {s.stats.requests}')
        lines.append(f"{name}_sum{{{base(s)}}} {s.stats.latency_sum:.6f}")
        lines.append(f"{name}_count{{{base(s)}}} {s.stats.requests}")
    return "\n".join(lines) + "\n"
