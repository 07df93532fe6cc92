"""A stand-in for a Gateway API implementation, for release-flow tests on KWOK clusters.

KWOK pods serve nothing, so there is no data plane to measure. This thread plays
the gateway's two observable roles, driven only by what is in the API server:

- as a controller, it marks each HTTPRoute ``Accepted`` for its current generation
  (what a real controller writes once it programmed the route);
- as the data plane, it "serves" a steady request rate split by the weighted
  rule's backend weights, and exports the per-version counters in the router's
  Prometheus format (``nahtlos.analysis.exposition``) on a real HTTP port.

Faults are injected per version (``error_rates``): that is how a failed analysis
is injected through the metric provider.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from nahtlos.platforms.local.stats import VersionSample, VersionStats, prometheus_text
from tests.fixtures.asgi import serve_asgi

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
TICK_SECONDS = 0.2
REQUESTS_PER_TICK = 40  # 200 requests/s per module
LATENCY_SECONDS = 0.012


class SimulatedGateway:
    def __init__(self, api: client.ApiClient, *, namespace: str, app: str, modules: list[str],
                 error_rates: dict[tuple[str, str], float] | None = None) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.app, self.modules = namespace, app, modules
        self.error_rates = error_rates or {}
        self.stats: dict[tuple[str, str], VersionStats] = {}
        self.weights_seen: dict[str, list[dict[str, int]]] = {m: [] for m in modules}
        self._carry: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.failure: BaseException | None = None

    def metrics(self, _request) -> PlainTextResponse:
        with self._lock:
            samples = [VersionSample(module, version, stats, weight=0, ready=True, in_flight=0, pinned=0)
                       for (module, version), stats in sorted(self.stats.items())]
            text = prometheus_text(self.app, samples)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    def _weights(self, module: str) -> dict[str, int] | None:
        try:
            route = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, module)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        self._accept(route)
        rule = next(r for r in route["spec"]["rules"] if r.get("name") == "weighted")
        return {".".join(ref["name"].rsplit("-", 3)[1:]): ref.get("weight", 1) for ref in rule["backendRefs"]}

    def _accept(self, route: dict) -> None:
        generation = route["metadata"]["generation"]
        parents = (route.get("status") or {}).get("parents") or []
        if any(c.get("observedGeneration") == generation for p in parents for c in p.get("conditions", [])):
            return
        route["status"] = {"parents": [{
            "parentRef": route["spec"]["parentRefs"][0], "controllerName": "example.net/simulated-gateway",
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "programmed",
                            "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"}]}]}
        try:
            self.custom.replace_namespaced_custom_object_status(GROUP, VERSION, self.namespace, PLURAL,
                                                                route["metadata"]["name"], route)
        except client.ApiException as exc:
            if exc.status not in (404, 409):  # changed meanwhile: accepted on the next tick
                raise

    def _serve(self, module: str, weights: dict[str, int]) -> None:
        total = sum(weights.values()) or 1
        with self._lock:
            for version, weight in weights.items():
                key = (module, version)
                share = self._carry.get(key, 0.0) + REQUESTS_PER_TICK * weight / total
                count, self._carry[key] = int(share), share - int(share)
                stats = self.stats.setdefault(key, VersionStats())
                rate = self.error_rates.get(key, 0.0)
                for _ in range(count):
                    failed = rate and (stats.requests * rate) % 1 + rate >= 1  # evenly spread failures
                    stats.record(500 if failed else 200, LATENCY_SECONDS)

    def _run(self) -> None:
        try:
            while not self._stop.wait(TICK_SECONDS):
                for module in self.modules:
                    weights = self._weights(module)
                    if weights is None:
                        continue
                    history = self.weights_seen[module]
                    if not history or history[-1] != weights:
                        history.append(weights)
                    self._serve(module, weights)
        except BaseException as exc:  # reported by running() so a broken simulation fails the test
            self.failure = exc

    @contextmanager
    def running(self) -> Iterator[str]:
        """Run the simulation; yield the ``host:port`` Prometheus should scrape."""
        app = Starlette(routes=[Route("/metrics", self.metrics)])
        with serve_asgi(app) as url:
            thread = threading.Thread(target=self._run, name="simulated-gateway", daemon=True)
            thread.start()
            try:
                yield url.removeprefix("http://")
            finally:
                self._stop.set()
                thread.join(timeout=10)
            if self.failure is not None:
                raise RuntimeError("the simulated gateway failed") from self.failure
