"""The router's data path: an HTTP/1.1 reverse proxy on asyncio protocols.

One ``ClientConnection`` per accepted socket parses requests with httptools,
asks the module's ``ModuleRoutes`` for a version and streams the request to a
pooled ``BackendConnection``; the response streams back the same way. Both
sides keep connections alive. Hop-by-hop headers are dropped and the framing
is rebuilt per hop (chunked bodies are re-chunked), ``X-Forwarded-*`` is
added, and ``Upgrade`` requests (WebSocket) become a byte tunnel after a 101.

Retry rules (the issue's, exactly): a request whose connection failed before
any byte was written goes to another ready version, whatever its method; an
idempotent request (GET HEAD OPTIONS PUT DELETE) is also retried when the
backend reset or closed the connection before answering, if its bytes are
still held (bodies up to ``REPLAY_LIMIT``); nothing is retried once a
response byte reached the client, and a non-idempotent request that may have
reached a backend is answered 502.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httptools

from nahtlos.platforms.local.http1 import BUFFER_HIGH, HOP_BY_HOP, REASONS, connection_tokens
from nahtlos.platforms.local.upstream import BackendConnection, Exchange

if TYPE_CHECKING:
    from nahtlos.platforms.local.routes import ModuleRoutes


@dataclass(frozen=True)
class ProxyTimeouts:
    connect: float = 3.0  # opening a connection to a version
    response: float = 60.0  # from the request being written to the response headers
    client_idle: float = 75.0  # a client connection with no traffic is closed after this
    pool_idle: float = 2.0  # pooled backend connections are closed after this (below common keep-alive timeouts)


class Listener:
    """Shared state of one listening address (a module's service address or the public entry)."""

    def __init__(self, routes: ModuleRoutes, timeouts: ProxyTimeouts, *, router_cookie: bool = False,
                 forwarded_proto: bytes = b"http") -> None:
        self.routes = routes
        self.router_cookie = router_cookie
        self.timeouts = timeouts
        self.forwarded_proto = forwarded_proto
        self.connections: set[ClientConnection] = set()
        self.loop = asyncio.get_running_loop()

    def sweep(self, now: float) -> None:
        """Close idle client connections (run about once a second)."""
        for conn in list(self.connections):
            if conn.active is None and conn.tunnel is None and now - conn.last_activity > self.timeouts.client_idle:
                conn.transport.close()


class ClientConnection(asyncio.Protocol):
    """A connection from a client (a browser, a load generator, another module)."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.incoming: Exchange | None = None
        self.active: Exchange | None = None
        self.waiting: deque[Exchange] = deque()
        self.tunnel: BackendConnection | None = None
        self.closed = False
        self.client_ip = b"unknown"
        self.last_activity = listener.loop.time()

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip = str(peer[0]).encode()
        self.listener.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.listener.connections.discard(self)
        if self.tunnel is not None:
            self.tunnel.close()
        ex = self.active
        if ex is not None:
            self.active = None
            if ex.timer is not None:
                ex.timer.cancel()
            if ex.backend is not None:
                ex.backend.in_flight -= 1
            if ex.conn is not None:
                ex.conn.ex = None
                ex.conn.close()
            ex.backend = None

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.listener.loop.time()
        if self.tunnel is not None:
            self.tunnel.transport.write(data)
            return
        ex = self.active
        if ex is not None and ex.tunnel_tail is not None:  # waiting for the backend's 101
            ex.tunnel_tail.append(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            ex = self.active
            if ex is not None and ex.tunnel_tail is not None:
                ex.tunnel_tail.append(data[upgrade.args[0]:])
        except httptools.HttpParserError:
            self.bad_request()
            return
        ex = self.active
        if ex is not None:
            ex.flush()
            if len(ex.unsent) > 16 and sum(map(len, ex.unsent)) > BUFFER_HIGH:
                self.transport.pause_reading()  # resumed when a backend connection takes the data

    # httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.incoming = Exchange(self)

    def on_url(self, url: bytes) -> None:
        self.incoming.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.incoming.headers.append((name, value))

    def on_headers_complete(self) -> None:
        ex = self.incoming
        parser = self.parser
        ex.method = parser.get_method()
        ex.keep_alive = parser.should_keep_alive()
        ex.http11 = parser.get_http_version() == "1.1"
        ex.upgrade = parser.should_upgrade()
        ex.started = self.listener.loop.time()
        ex.queue(self._request_head(ex))
        if ex.upgrade:
            ex.tunnel_tail = []
        if self.active is None:
            self.start(ex)
        else:
            self.waiting.append(ex)

    def on_body(self, body: bytes) -> None:
        ex = self.incoming
        if ex.chunked:
            ex.queue(b"%x\r\n%s\r\n" % (len(body), body))
        else:
            ex.queue(body)

    def on_message_complete(self) -> None:
        ex = self.incoming
        if ex.chunked:
            ex.queue(b"0\r\n\r\n")
        ex.request_complete = True

    # ------------------------------------------------------------------------------------

    def _request_head(self, ex: Exchange) -> bytes:
        out = [ex.method, b" ", ex.url, b" HTTP/1.1\r\n"]
        drop = connection_tokens(ex.headers)
        forwarded_for = host = proto = None
        upgrade_to = None
        ex.chunked = False
        for name, value in ex.headers:
            lname = name.lower()
            if lname in HOP_BY_HOP or lname in drop:
                if lname == b"transfer-encoding" and b"chunked" in value.lower():
                    ex.chunked = True
                elif lname == b"upgrade":
                    upgrade_to = value
                continue
            if lname == b"x-forwarded-for":
                forwarded_for = value
                continue
            if lname == b"host":
                host = value
            elif lname == b"x-forwarded-proto":
                proto = value
            out.append(name + b": " + value + b"\r\n")
        ip = self.client_ip
        out.append(b"x-forwarded-for: " + (forwarded_for + b", " + ip if forwarded_for else ip) + b"\r\n")
        if proto is None:
            out.append(b"x-forwarded-proto: " + self.listener.forwarded_proto + b"\r\n")
        if host is not None and not any(n.lower() == b"x-forwarded-host" for n, _ in ex.headers):
            out.append(b"x-forwarded-host: " + host + b"\r\n")
        if ex.chunked:
            out.append(b"transfer-encoding: chunked\r\n")
        if ex.upgrade and upgrade_to is not None:
            out.append(b"connection: upgrade\r\nupgrade: " + upgrade_to + b"\r\n")
        out.append(b"\r\n")
        return b"".join(out)

    def start(self, ex: Exchange) -> None:
        self.active = ex
        cookie = None
        for name, value in ex.headers:
            if len(name) == 6 and name.lower() == b"cookie":
                cookie = value if cookie is None else cookie + b"; " + value
        backend, ex.set_cookie = self.listener.routes.route(cookie, router_cookie=self.listener.router_cookie)
        if backend is None:
            self.listener.routes.unrouted += 1
            self.fail(ex, 503, "no ready version of this module")
            return
        ex.assign(backend)

    def exchange_done(self, ex: Exchange) -> None:
        self.active = None
        if ex.close_client or self.closed:
            self.transport.close()
            return
        if self.waiting:
            self.start(self.waiting.popleft())

    def fail(self, ex: Exchange, status: int, message: str) -> None:
        """Answer ``ex`` with a JSON error from the router itself."""
        if ex.backend is not None:  # the version was chosen: the failure counts against it
            ex.backend.in_flight -= 1
            ex.backend.stats.record(status, self.listener.loop.time() - ex.started)
            ex.backend = None
        body = json.dumps({"error": REASONS[status].decode().lower().replace(" ", "_"), "message": message,
                           "module": self.listener.routes.module}).encode()
        ex.close_client = ex.close_client or not ex.keep_alive or not ex.request_complete or ex.upgrade
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n" % (
            status, REASONS[status], len(body), b"connection: close\r\n" if ex.close_client else b"")
        if not self.closed:
            self.transport.write(head + body)
        self.exchange_done(ex)

    def bad_request(self) -> None:
        if self.active is None:
            body = b'{"error": "bad_request", "message": "malformed HTTP request"}'
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        self.transport.close()

    # flow control: a slow client slows the backend down, and vice versa
    def pause_writing(self) -> None:
        target = self.tunnel or (self.active.conn if self.active else None)
        if target is not None and not target.closed:
            target.transport.pause_reading()

    def resume_writing(self) -> None:
        target = self.tunnel or (self.active.conn if self.active else None)
        if target is not None and not target.closed:
            target.transport.resume_reading()
