"""tinyapp: the tiny three-module test application (front -> middle -> back).

Each module version is a small real HTTP server (a raw ASGI app on uvicorn)
that reports its module and version. Used by every platform backend's
contract tests and by the release-flow end-to-end tests.

Endpoints (every module):
    GET  /healthz          readiness: 200 {"status": "ok"}
    GET  /whoami           {"module", "version"} (no downstream call)
    GET  /headers          {"module", "version", "headers": [[name, value], ...]} as received
    GET  /                 {"module", "version", "downstream": <answer of the next module>}
    GET  /login            sets the session cookie ``tiny_session`` (a random id)
    GET  /slow?ms=N        answers after N milliseconds (in-flight requests for drain tests)
    POST /echo             echoes the request body back (streaming in both directions)
    GET  /stream?chunks=N  a chunked response of N parts
    WS   /ws               WebSocket echo, prefixed with the version

Per-version fault injection, read from the environment at start (the
version-specific variable wins; ``.`` in the version becomes ``_``):
    TINYAPP_ERROR_RATE[_1_1_0]   share of requests answered 500 (0..1), spread
                                 evenly and deterministically: with 0.05 every
                                 20th request fails, so a one-request smoke test
                                 passes and only real traffic reveals the fault
    TINYAPP_LATENCY_MS[_1_1_0]   added latency per request in milliseconds
    TINYAPP_DOWNSTREAM           URL of the next module (front -> middle -> back)
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

import httpx

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def fault_setting(name: str, version: str, default: float = 0.0) -> float:
    specific = os.environ.get(f"{name}_{version.replace('.', '_')}")
    value = specific if specific is not None else os.environ.get(name)
    return float(value) if value not in (None, "") else default


class TinyApp:
    def __init__(self, module: str, version: str, *, downstream: str | None) -> None:
        self.module, self.version, self.downstream = module, version, downstream
        self.error_rate = fault_setting("TINYAPP_ERROR_RATE", version)
        self.latency = fault_setting("TINYAPP_LATENCY_MS", version) / 1000.0
        self.identity = {"module": module, "version": version}
        self.requests = 0  # counted for the deterministic fault pattern
        self.client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(receive, send)
        else:
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(timeout=10.0) if self.downstream else None
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        query = parse_qs(scope.get("query_string", b"").decode())
        if path == "/healthz":
            await _json(send, 200, {"status": "ok", **self.identity})
            return
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._injected_fault():
            await _json(send, 500, {"error": "injected fault", **self.identity})
            return
        if path == "/whoami":
            await _json(send, 200, self.identity)
        elif path == "/headers":
            headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
            await _json(send, 200, {"headers": headers, **self.identity})
        elif path == "/login":
            cookie = f"tiny_session={secrets.token_hex(16)}; Path=/; HttpOnly"
            await _json(send, 200, {"logged_in": True, **self.identity}, [(b"set-cookie", cookie.encode())])
        elif path == "/slow":
            await asyncio.sleep(float(query.get("ms", ["1000"])[0]) / 1000.0)
            await _json(send, 200, self.identity)
        elif path == "/echo" and method == "POST":
            await self._echo(receive, send)
        elif path == "/stream":
            await self._stream(send, int(query.get("chunks", ["3"])[0]))
        elif path == "/":
            answer: dict[str, Any] = dict(self.identity)
            if self.client is not None:
                response = await self.client.get(self.downstream + "/")
                answer["downstream"] = response.json()
                if response.status_code >= 500:
                    await _json(send, 502, answer)
                    return
            await _json(send, 200, answer)
        else:
            await _json(send, 404, {"error": "not found", **self.identity})

    def _injected_fault(self) -> bool:
        """Request n fails when floor(n * rate) steps up: exactly the rate, never the first request."""
        if not self.error_rate:
            return False
        self.requests += 1
        return int(self.requests * self.error_rate) > int((self.requests - 1) * self.error_rate)

    async def _echo(self, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"x-version", self.version.encode())]})
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
            await send({"type": "http.response.body", "body": message.get("body", b""), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(self, send: Send, chunks: int) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(chunks):
            await send({"type": "http.response.body", "body": f"{self.version} part {i}\n".encode(), "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _websocket(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or (message.get("bytes") or b"").decode()
            await send({"type": "websocket.send", "text": f"{self.version}: {text}"})


async def _json(send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": data})
