"""A Router running in its own event-loop thread, for tests of the HTTP mechanics.

Backends are real servers on 127.0.0.1: tinyapp on uvicorn (``serve_asgi``), or
small asyncio servers with a scripted misbehaviour that run in the router's loop.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from nahtlos.platforms.local.proxy import ProxyTimeouts
from nahtlos.platforms.local.router import Router, bind_socket
from nahtlos.platforms.local.routes import Backend, ModuleRoutes


@dataclass
class RouterHandle:
    loop: asyncio.AbstractEventLoop
    router: Router
    routes: ModuleRoutes
    entry_url: str
    service_url: str

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the router's loop thread and return its result."""
        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def run(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def add(self, version: str, port: int, weight: int) -> Backend:
        def add() -> Backend:
            backend = Backend("m", version, "127.0.0.1", port)
            backend.weight, backend.ready = weight, True
            self.routes.backends[version] = backend
            return backend
        return self.call(add)


@contextmanager
def running_router(*, session_cookie: str | None = None, timeouts: ProxyTimeouts | None = None) -> Iterator[RouterHandle]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-router", daemon=True)
    thread.start()
    router = Router("test", timeouts=timeouts)
    routes = router.add_module("m", session_cookie=session_cookie, pin_idle_seconds=60)

    async def start() -> tuple[int, int]:
        entry = await router.serve("m", bind_socket("127.0.0.1", 0), entry=True)
        service = await router.serve("m", bind_socket("127.0.0.1", 0))
        return entry, service

    entry, service = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    handle = RouterHandle(loop, router, routes, f"http://127.0.0.1:{entry}", f"http://127.0.0.1:{service}")
    try:
        yield handle
    finally:
        asyncio.run_coroutine_threadsafe(router.close(grace=0.5), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class ScriptedBackend:
    """An asyncio HTTP server with a misbehaviour: ``reset`` (read the request, then RST),
    ``silent`` (read it and never answer) or ``ok`` (answer 200 naming itself)."""

    behaviour: str
    name: str = "scripted"
    requests: list[bytes] = field(default_factory=list)
    port: int = 0
    server: asyncio.base_events.Server | None = None

    async def start(self) -> "ScriptedBackend":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                self.requests.append(head.split(b" ", 1)[0])
                if self.behaviour == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if self.behaviour == "silent":
                    await asyncio.sleep(3600)
                body = self.name.encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

