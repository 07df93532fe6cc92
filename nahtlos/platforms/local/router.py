"""The router: one listener per module (its stable service address) plus the
application's public entry, all in the daemon's event loop.

It owns the ``ModuleRoutes`` of every module and a once-a-second sweep that
closes idle client connections, stale pooled backend connections and
expired session pins.
"""

from __future__ import annotations

import asyncio
import socket
import time

from nahtlos.platforms.local.proxy import ClientConnection, Listener, ProxyTimeouts
from nahtlos.platforms.local.routes import ModuleRoutes
from nahtlos.platforms.local.stats import VersionSample, prometheus_text


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; raises OSError (EADDRINUSE ...) before anything is started."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Router:
    def __init__(self, app: str, *, timeouts: ProxyTimeouts | None = None) -> None:
        self.app = app
        self.timeouts = timeouts or ProxyTimeouts()
        self.modules: dict[str, ModuleRoutes] = {}
        self.listeners: list[Listener] = []
        self.servers: list[asyncio.base_events.Server] = []
        self._sweeper: asyncio.Task | None = None

    def add_module(self, module: str, *, session_cookie: str | None, pin_idle_seconds: float) -> ModuleRoutes:
        routes = ModuleRoutes(module, session_cookie=session_cookie, pin_idle_seconds=pin_idle_seconds)
        self.modules[module] = routes
        return routes

    async def serve(self, module: str, sock: socket.socket, *, entry: bool = False) -> int:
        """Serve ``module`` on an already bound socket; returns its port. The ``entry``
        listener (the public address) also pins sessions with the router's own cookie."""
        listener = Listener(self.modules[module], self.timeouts, router_cookie=entry)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: ClientConnection(listener), sock=sock)
        self.listeners.append(listener)
        self.servers.append(server)
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep())
        return sock.getsockname()[1]

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            now = loop.time()
            for listener in self.listeners:
                listener.sweep(now)
            for routes in self.modules.values():
                for backend in routes.backends.values():
                    fresh = [c for c in backend.idle if now - c.idle_since <= self.timeouts.pool_idle and not c.closed]
                    for conn in backend.idle:
                        if conn not in fresh:
                            conn.close()
                    backend.idle = fresh
                routes.pins.expire(time.monotonic())

    async def close(self, *, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish for up to ``grace`` seconds, then cut."""
        for server in self.servers:
            server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline and any(l.connections and any(c.active for c in l.connections)
                                             for l in self.listeners):
            await asyncio.sleep(0.05)
        for listener in self.listeners:
            for conn in list(listener.connections):
                conn.transport.close()
        for routes in self.modules.values():
            for backend in routes.backends.values():
                backend.close_idle()
        if self._sweeper is not None:
            self._sweeper.cancel()

    def prometheus(self) -> str:
        samples = []
        for module, routes in self.modules.items():
            pinned = routes.pinned_counts()
            for version, b in routes.backends.items():
                samples.append(VersionSample(module, version, b.stats, weight=b.weight, ready=b.ready,
                                             in_flight=b.in_flight, pinned=pinned.get(version, 0)))
        text = prometheus_text(self.app, samples)
        unrouted = "\n".join(f'nahtlos_unrouted_requests_total{{app="{self.app}",module="{m}"}} {r.unrouted}'
                             for m, r in self.modules.items())
        return (text + "# HELP nahtlos_unrouted_requests_total Requests answered 503: no version could take them.\n"
                "# TYPE nahtlos_unrouted_requests_total counter\n" + unrouted + "\n")
