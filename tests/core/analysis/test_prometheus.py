"""The Prometheus provider against a real Prometheus scraping the local router's real /metrics text."""

import time

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from nahtlos.analysis.judge import judge
from nahtlos.analysis.models import AnalysisConfig
from nahtlos.analysis.platform_stats import PlatformStatsProvider
from nahtlos.analysis.prometheus import PrometheusProvider
from nahtlos.errors import MetricsUnavailable
from nahtlos.platforms.local.stats import VersionSample, VersionStats, prometheus_text

from tests.core.analysis.test_providers import platform_status
from tests.core.analysis.windows import latencies
from tests.fixtures.asgi import closed_port, serve_asgi


def serve(stats: VersionStats, samples, *, errors: int = 0, upgrades: int = 0, connection_errors: int = 0) -> None:
    """Record traffic the way the router's data path does."""
    for index, seconds in enumerate(samples):
        stats.record(503 if index < errors else 101 if index < errors + upgrades else 200, float(seconds))
    stats.connection_errors += connection_errors


def wait_until(condition, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "Prometheus did not scrape the expected counters in time"
        time.sleep(0.2)


def scraped(provider: PrometheusProvider, router: dict[str, VersionStats]) -> bool:
    seen = provider.counters(module="forms", at=provider.server_time())
    return all(v in seen and seen[v].requests == stats.requests for v, stats in router.items())


@pytest.mark.slow
def test_prometheus_windows_equal_the_ones_computed_from_the_same_router_counters(start_prometheus):
    router = {"1.0.0": VersionStats()}
    serve(router["1.0.0"], latencies(500, seed=1), errors=1)

    async def metrics(_):
        samples = [VersionSample("forms", v, s, weight=50, ready=True, in_flight=0, pinned=0) for v, s in router.items()]
        return Response(prometheus_text("demo", samples), media_type="text/plain; version=0.0.4")

    direct = PlatformStatsProvider(status=lambda: platform_status(
        **{"v" + v.replace(".", "_"): s.to_model() for v, s in router.items()}))
    with serve_asgi(Starlette(routes=[Route("/metrics", metrics)])) as router_url:
        server = start_prometheus(targets=[router_url.removeprefix("http://")])
        with PrometheusProvider(url=server.url, application="demo") as prometheus:
            wait_until(lambda: scraped(prometheus, router))
            from_prometheus, from_counters = prometheus.begin_window(module="forms"), direct.begin_window(module="forms")
            router["2.0.0"] = VersionStats()  # the canary starts inside the window
            serve(router["2.0.0"], latencies(120, median=0.16, seed=2), errors=9, connection_errors=1)
            serve(router["1.0.0"], latencies(1000, seed=3), errors=4, upgrades=3, connection_errors=2)
            wait_until(lambda: scraped(prometheus, router))
            queried = prometheus.end_window(start=from_prometheus)
    computed = direct.end_window(start=from_counters)

    assert queried.source == "prometheus" and queried.ended_at > queried.started_at
    assert queried.versions == computed.versions
    assert (queried.stats("2.0.0").responses, queried.stats("2.0.0").errors) == (120, 9)
    assert queried.stats("1.0.0").latency_count == 1000 and queried.stats("1.0.0").responses == 997
    assert queried.stats("1.0.0").connection_errors == 2
    config = AnalysisConfig()
    by_prometheus = judge(window=queried, canary="2.0.0", stable="1.0.0", config=config)
    by_counters = judge(window=computed, canary="2.0.0", stable="1.0.0", config=config)
    assert by_prometheus.error_rate == by_counters.error_rate and by_prometheus.latency == by_counters.latency
    assert by_prometheus.verdict == by_counters.verdict


def test_an_unreachable_prometheus_is_a_transient_error_that_names_the_address():
    url = f"http://127.0.0.1:{closed_port()}"
    with PrometheusProvider(url=url, application="demo") as prometheus:
        with pytest.raises(MetricsUnavailable, match="did not answer") as caught:
            prometheus.begin_window(module="forms")
    assert caught.value.transient and caught.value.subject == url
