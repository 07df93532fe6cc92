"""The local platform: module versions as processes behind a weighted, sticky, draining router.

    spec        run.local and routing: models (imported by the descriptor)
    supervisor  version processes: start, readiness, crash reports, SIGTERM -> grace -> SIGKILL
    routes      per-module routing decisions: weights, pins, moves, live split
    pins        session pins (digests of cookies only)
    proxy       the HTTP/1.1 reverse proxy (asyncio protocols + httptools)
    router      listeners per module and the public entry; Prometheus text
    stats       per-version counters and latency histogram
    control     the daemon's verbs over router + processes + persisted desired state
    admin       the admin HTTP API (loopback, bearer token)
    daemon      the daemon process;  launcher: start/stop it from outside
    client      LocalPlatform, the Platform protocol over the admin API

``LocalPlatform`` is importable from here; it is loaded lazily because the
descriptor imports ``spec`` from this package.
"""


def __getattr__(name: str):
    if name == "LocalPlatform":
        from nahtlos.platforms.local.client import LocalPlatform

        return LocalPlatform
    raise AttributeError(name)
