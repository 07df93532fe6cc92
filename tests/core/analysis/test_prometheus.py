import time

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from nahtlos.analysis.exposition import CONTENT_TYPE, render_platform_status
from nahtlos.analysis.judge import judge
from nahtlos.analysis.models import AnalysisConfig
from nahtlos.analysis.platform_stats import PlatformStatsProvider
from nahtlos.analysis.prometheus import PrometheusProvider
from nahtlos.errors import MetricsUnavailable

from tests.core.analysis.test_providers import platform_status
from tests.core.analysis.windows import latencies, request_stats
from tests.fixtures.asgi import closed_port, serve_asgi

BEFORE = platform_status(v1_0_0=request_stats(latencies(500, seed=1), errors=1))
AFTER = platform_status(
    v1_0_0=request_stats(latencies(1500, seed=1)[:1500], errors=5, connection_errors=2),
    v2_0_0=request_stats(latencies(120, median=0.16, seed=2), errors=9, connection_errors=1))


def wait_until(condition, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "Prometheus did not scrape the expected counters in time"
        time.sleep(0.2)


def scraped(provider: PrometheusProvider, version: str, responses: int) -> bool:
    stats = provider.counters(module="forms", at=provider.server_time()).get(version)
    return stats is not None and stats.requests == responses


@pytest.mark.slow
def test_prometheus_windows_equal_the_ones_computed_from_the_same_counters_directly(start_prometheus):
    current = {"status": BEFORE}

    async def metrics(_):
        return Response(render_platform_status(current["status"]), media_type=CONTENT_TYPE)

    direct = PlatformStatsProvider(status=lambda: current["status"])
    with serve_asgi(Starlette(routes=[Route("/metrics", metrics)])) as router_url:
        server = start_prometheus(targets=[router_url.removeprefix("http://")])
        with PrometheusProvider(url=server.url, application="demo") as prometheus:
            wait_until(lambda: scraped(prometheus, "1.0.0", 500))
            from_prometheus, from_counters = prometheus.begin_window(module="forms"), direct.begin_window(module="forms")
            current["status"] = AFTER  # the canary starts inside the window
            wait_until(lambda: scraped(prometheus, "2.0.0", 120) and scraped(prometheus, "1.0.0", 1500))
            queried = prometheus.end_window(start=from_prometheus)
    computed = direct.end_window(start=from_counters)

    assert queried.source == "prometheus" and queried.ended_at > queried.started_at
    assert queried.versions == computed.versions
    assert (queried.stats("2.0.0").responses, queried.stats("2.0.0").errors) == (120, 9)
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
