"""What every Buergerservice module shares: identity, health, fault injection, upstream calls.

Each module builds its Starlette app with ``build_app``, which adds

- ``GET /healthz``: 200 ``{"status": "ok", "module", "version"}`` once the
  module's own readiness check passes (e.g. Redis answers), else 503;
- the ``X-Served-By: <module>/<version>`` header on every response, so tests
  and the synthetic users can tell which version served a request;
- fault injection from the environment (``BS_ERROR_RATE``: share of API
  requests answered 500; ``BS_EXTRA_LATENCY_MS``): a version's deliberate
  defect is just a different default;
- one mapping of upstream failures to 502/504 and of Redis failures to 503,
  so no module answers with a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import aiohttp
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("buergerservice")


@dataclass(frozen=True)
class ServiceInfo:
    module: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.module}/{self.version}"

    def at_least(self, version: str) -> bool:
        return _key(self.version) >= _key(version)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class UpstreamFailed(Exception):
    """A module this one consumes failed; answered as 502 (504 on timeout), never retried."""

    def __init__(self, module: str, reason: str, *, status: int = 502) -> None:
        self.module, self.reason, self.status = module, reason, status
        super().__init__(f"{module}: {reason}")


def service_url(module: str) -> str:
    """Stable address of another module (contract 1: ``<MODULE>_SERVICE_URL``)."""
    name = module.upper().replace("-", "_") + "_SERVICE_URL"
    url = os.environ.get(name)
    if not url:
        raise UpstreamFailed(module, f"{name} is not set")
    return url.rstrip("/")


class UpstreamResponse:
    """A consumed module's answer, read completely."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Upstreams:
    """Keep-alive HTTP client to the modules this one consumes.

    aiohttp rather than httpx on this hop: the gateway makes about one upstream
    call per request, and httpcore's pool bookkeeping (O(connections) per
    request) made it the bottleneck of the whole demo. No retries, except
    aiohttp's single retry of an idempotent request on a keep-alive
    connection the server had already closed, as any HTTP proxy does.
    """

    def __init__(self, *, timeout: float = 5.0, connections_per_module: int = 32) -> None:
        self._timeout, self._size = timeout, connections_per_module
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:  # created inside the server's event loop
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=self._size, keepalive_timeout=4.0)
            self._session = aiohttp.ClientSession(connector=connector,
                                                  timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self._session

    async def call(self, module: str, method: str, path: str, *, expect: tuple[int, ...] = (200,),
                   json: Any = None, params: Mapping[str, str] | None = None,
                   headers: Mapping[str, str] | None = None, content: bytes | None = None) -> UpstreamResponse:
        """Call ``module``; any status outside ``expect`` raises ``UpstreamFailed``."""
        url = service_url(module) + path
        try:
            async with self._http().request(method, url, json=json, params=params, headers=headers,
                                            data=content) as response:
                answer = UpstreamResponse(response.status, response.headers, await response.read())
        except asyncio.TimeoutError:
            raise UpstreamFailed(module, "timed out", status=504) from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailed(module, f"unreachable ({type(exc).__name__})") from None
        if answer.status_code not in expect:
            raise UpstreamFailed(module, f"answered {answer.status_code} to {method} {path.split('?')[0]}")
        return answer

    async def json(self, module: str, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.call(module, method, path, **kwargs)).json()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _ServedBy:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware) adding the version header."""

    def __init__(self, app: ASGIApp, label: str) -> None:
        self.app, self.header = app, (b"x-served-by", label.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], self.header]
            await send(message)

        await self.app(scope, receive, send_with_header)


class _Faults:
    """Answers a share of requests with 500 and/or delays them; never /healthz."""

    def __init__(self, app: ASGIApp, *, error_rate: float, latency_ms: float) -> None:
        self.app, self.error_rate, self.latency = app, error_rate, latency_ms / 1000.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.error_rate and random.random() < self.error_rate:
            response = JSONResponse({"error": "internal error"}, status_code=500)
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def fault_settings(*, default_error_rate: float = 0.0) -> tuple[float, float]:
    """(error rate, added latency in ms) from the environment, with the version's default."""
    try:
        rate = float(os.environ.get("BS_ERROR_RATE", default_error_rate))
        latency = float(os.environ.get("BS_EXTRA_LATENCY_MS", 0))
    except ValueError:
        raise SystemExit("BS_ERROR_RATE and BS_EXTRA_LATENCY_MS must be numbers") from None
    if not 0.0 <= rate <= 1.0 or latency < 0:
        raise SystemExit("BS_ERROR_RATE must be within 0..1 and BS_EXTRA_LATENCY_MS >= 0")
    return rate, latency


def build_app(info: ServiceInfo, routes: list[BaseRoute], *, lifespan: Any = None,
              ready: Callable[[], Awaitable[bool]] | None = None,
              default_error_rate: float = 0.0) -> ASGIApp:
    async def healthz(request: Request) -> JSONResponse:
        ok = True
        if ready is not None:
            try:
                ok = await ready()
            except Exception as exc:  # readiness must answer, whatever the dependency does
                log.warning("%s not ready: %s", info.label, type(exc).__name__)
                ok = False
        body = {"status": "ok" if ok else "unavailable", "module": info.module, "version": info.version}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def upstream_failed(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UpstreamFailed)
        log.warning("%s: upstream %s failed: %s", info.label, exc.module, exc.reason)
        return JSONResponse({"error": f"{exc.module} unavailable", "upstream": exc.module}, status_code=exc.status)

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s: Redis unavailable: %s", info.label, type(exc).__name__)
        return JSONResponse({"error": "store unavailable"}, status_code=503)

    async def client_gone(request: Request, exc: Exception) -> Response:
        return Response(status_code=499)  # nobody is left to read it; not worth a traceback

    app = Starlette(routes=[Route("/healthz", healthz), *routes], lifespan=lifespan,
                    exception_handlers={UpstreamFailed: upstream_failed, RedisError: store_unavailable,
                                        ClientDisconnect: client_gone})
    app.state.info = info
    error_rate, latency_ms = fault_settings(default_error_rate=default_error_rate)
    wrapped: ASGIApp = app
    if error_rate or latency_ms:
        wrapped = _Faults(app, error_rate=error_rate, latency_ms=latency_ms)
    return _ServedBy(wrapped, info.label)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or {} when it is missing or not an object."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def redis_from_env(module: str) -> Redis:
    """Client for the shared Redis (``REDIS_URL``); connects lazily inside the server's loop."""
    url = os.environ.get("REDIS_URL")
    if not url:
        raise SystemExit(f"REDIS_URL is not set: {module} keeps its data in Redis")
    # A blocking pool waits for a free connection under bursts instead of failing the request.
    pool = BlockingConnectionPool.from_url(url, max_connections=64, timeout=5, socket_timeout=5,
                                           socket_connect_timeout=2)
    return Redis.from_pool(pool)


def closing_lifespan(*resources: Any, on_start: Callable[[], Awaitable[None]] | None = None
                     ) -> Callable[[Any], Any]:
    """A lifespan that runs ``on_start`` before the first request and closes ``resources``
    (anything with ``aclose()``) after the last one."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if on_start is not None:
            await on_start()
        yield
        for resource in resources:
            await resource.aclose()

    return lifespan


def redis_ready(redis: Redis) -> Callable[[], Awaitable[bool]]:
    """Readiness check of a module that cannot serve without its Redis."""

    async def ready() -> bool:
        return bool(await redis.ping())

    return ready
