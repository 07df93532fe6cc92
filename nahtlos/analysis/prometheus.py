"""Metrics from the Prometheus HTTP API, over the router's series (``nahtlos.analysis.exposition``).

A window is the difference of the raw counters at its two ends, read with instant queries
(``/api/v1/query?time=``) at the start and end times on Prometheus' own clock. This gives the
same integers the router counted (``increase()`` would extrapolate to fractions), and the same
arithmetic as the platform provider (``window_stats``). Series of several router instances are
summed per version, as ``sum by (version)`` would.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import httpx

from nahtlos.analysis.exposition import CODE_CLASSES, CODE_LABEL, CONNECTION_ERRORS, DURATION, REQUESTS
from nahtlos.analysis.models import MetricsWindow, WindowStart
from nahtlos.analysis.window import build_window
from nahtlos.errors import MetricsUnavailable
from nahtlos.httpsteps import normalize_base_url
from nahtlos.platforms.base import RequestStats

SOURCE = "prometheus"
_NAMES = "|".join([REQUESTS, CONNECTION_ERRORS, f"{DURATION}_bucket", f"{DURATION}_sum"])


class PrometheusProvider:
    """``PrometheusProvider(url="http://prometheus:9090", application="buergerservice")``."""

    def __init__(self, *, url: str, application: str, token: str | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._url = normalize_base_url(url)
        self._application = application
        self._client = httpx.Client(base_url=self._url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "PrometheusProvider":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def begin_window(self, *, module: str) -> WindowStart:
        return WindowStart(module=module, source=SOURCE, started_at=self.server_time())

    def end_window(self, *, start: WindowStart) -> MetricsWindow:
        ended_at = self.server_time()
        return build_window(start=start, ended_at=ended_at, source=SOURCE,
                            readings_at_start=self.counters(module=start.module, at=start.started_at),
                            readings_at_end=self.counters(module=start.module, at=ended_at))

    def server_time(self) -> float:
        """Prometheus' clock, so a window never depends on clock skew between hosts."""
        return float(self._query("time()", at=None)["result"][0])

    def counters(self, *, module: str, at: float) -> dict[str, RequestStats]:
        """Cumulative counters per version of ``module`` as Prometheus saw them at ``at``."""
        selector = (f'{{__name__=~"{_NAMES}",app="{_quote(self._application)}",module="{_quote(module)}"}}')
        totals: dict[str, dict[str, Any]] = defaultdict(lambda: {"latency_buckets": defaultdict(int)})
        for sample in self._query(selector, at=at)["result"]:
            labels, value = sample["metric"], float(sample["value"][1])
            fields = totals[labels.get("version", "")]
            name = labels["__name__"]
            if name == REQUESTS and labels.get(CODE_LABEL) in CODE_CLASSES:
                key = CODE_CLASSES[labels[CODE_LABEL]]
                fields[key] = fields.get(key, 0) + round(value)
            elif name == CONNECTION_ERRORS:
                fields["connection_errors"] = fields.get("connection_errors", 0) + round(value)
            elif name == f"{DURATION}_bucket":
                fields["latency_buckets"][_parse_le(labels["le"])] += round(value)
            elif name == f"{DURATION}_sum":
                fields["latency_sum_seconds"] = fields.get("latency_sum_seconds", 0.0) + value
        return {version: _request_stats(fields) for version, fields in totals.items() if version}

    def _query(self, promql: str, *, at: float | None) -> dict[str, Any]:
        params = {"query": promql} | ({"time": repr(at)} if at is not None else {})
        try:
            response = self._client.get("/api/v1/query", params=params)
        except httpx.TransportError as exc:  # the exception text carries the URL, which may hold credentials
            raise MetricsUnavailable(f"Prometheus did not answer ({type(exc).__name__})", subject=self._url,
                                     hint="check the Prometheus address and that it runs") from None
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code != 200 or payload.get("status") != "success":
            reason = payload.get("error") or f"HTTP {response.status_code}"
            raise MetricsUnavailable(f"query failed: {reason}", subject=self._url,
                                     transient=response.status_code >= 500 or response.status_code == 429,
                                     hint="check the metric names and the Prometheus address")
        return payload["data"]


def _request_stats(fields: dict[str, Any]) -> RequestStats:
    buckets = dict(fields["latency_buckets"])
    fields["latency_buckets"] = buckets
    fields["requests"] = buckets.get(math.inf, 0)  # every request, 1xx included, as the router counts
    return RequestStats(**fields)


def _parse_le(text: str) -> float:
    return float(text)  # Python reads "+Inf" as well


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
