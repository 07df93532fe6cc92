"""The router's metric names, and its counters in the Prometheus text format.

One place defines the names so the router's ``/metrics`` and the Prometheus provider agree:

    nahtlos_requests_total{app, module, version, code_class}          counter; code_class 2xx..5xx
    nahtlos_connection_errors_total{app, module, version}              counter; no response at all
    nahtlos_request_duration_seconds_bucket{app, module, version, le}  histogram of every response
    nahtlos_request_duration_seconds_sum / _count{app, module, version}

``render_platform_status`` turns a ``PlatformStatus`` (cumulative ``RequestStats``) into that
text, so a router that keeps ``RequestStats`` can serve ``/metrics`` with one call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from nahtlos.platforms.base import PlatformStatus, RequestStats

REQUESTS = "nahtlos_requests_total"
CONNECTION_ERRORS = "nahtlos_connection_errors_total"
DURATION = "nahtlos_request_duration_seconds"
CODE_CLASSES = {"2xx": "status_2xx", "3xx": "status_3xx", "4xx": "status_4xx", "5xx": "status_5xx"}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render_platform_status(status: PlatformStatus) -> str:
    """Every version of every module of ``status`` in the Prometheus text exposition format."""
    series = [(status.application, m.module, v.version, v.stats)
              for m in status.modules.values() for v in m.versions.values()]
    return render_stats(series)


def render_stats(series: Iterable[tuple[str, str, str, RequestStats]]) -> str:
    """``(app, module, version, stats)`` rows as exposition text (each metric family once)."""
    series = list(series)
    requests, connections, buckets, sums, counts = [], [], [], [], []
    for app, module, version, stats in series:
        labels = f'app="{_escape(app)}",module="{_escape(module)}",version="{_escape(version)}"'
        for code_class, field in CODE_CLASSES.items():
            requests.append(f'{REQUESTS}{{{labels},code_class="{code_class}"}} {getattr(stats, field)}')
        connections.append(f"{CONNECTION_ERRORS}{{{labels}}} {stats.connection_errors}")
        observed = sum(getattr(stats, field) for field in CODE_CLASSES.values())
        cumulative = dict(stats.latency_buckets)
        cumulative.setdefault(math.inf, observed)
        for le in sorted(cumulative):
            buckets.append(f'{DURATION}_bucket{{{labels},le="{format_le(le)}"}} {cumulative[le]}')
        sums.append(f"{DURATION}_sum{{{labels}}} {stats.latency_sum_seconds!r}")
        counts.append(f"{DURATION}_count{{{labels}}} {cumulative[math.inf]}")
    lines = [f"# HELP {REQUESTS} Responses per version and status class.", f"# TYPE {REQUESTS} counter", *requests,
             f"# HELP {CONNECTION_ERRORS} Requests that got no response from the version.",
             f"# TYPE {CONNECTION_ERRORS} counter", *connections,
             f"# HELP {DURATION} Time to the response, per version.", f"# TYPE {DURATION} histogram",
             *buckets, *sums, *counts]
    return "\n".join(lines) + "\n"


def format_le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
