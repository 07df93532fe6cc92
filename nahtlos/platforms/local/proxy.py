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

if TYPE_CHECKING:
    from nahtlos.platforms.local.routes import Backend, ModuleRoutes

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                        b"transfer-encoding", b"upgrade", b"proxy-authenticate", b"proxy-authorization"})
REPLAY_LIMIT = 64 * 1024
BUFFER_HIGH = 1024 * 1024  # pause the client while this much request data waits for a backend
REASONS = {400: b"Bad Request", 502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Timeout"}


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


class Exchange:
    """One request and its response."""

    __slots__ = ("client", "method", "url", "headers", "keep_alive", "http11", "upgrade", "chunked",
                 "request_complete", "unsent", "replay", "replay_size", "sent", "backend", "conn", "tried",
                 "started", "response_started", "response_chunked", "close_client", "status", "timer",
                 "set_cookie", "tunnel_tail", "fresh_retry")

    def __init__(self, client: ClientConnection) -> None:
        self.client = client
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.request_complete = False
        self.unsent: list[bytes] = []
        self.replay: list[bytes] | None = []
        self.replay_size = 0
        self.sent = False
        self.backend: Backend | None = None
        self.conn: BackendConnection | None = None
        self.tried: tuple[Backend, ...] = ()
        self.response_started = False
        self.response_chunked = False
        self.close_client = False
        self.status = 0
        self.timer: asyncio.TimerHandle | None = None
        self.set_cookie: str | None = None
        self.tunnel_tail: list[bytes] | None = None
        self.fresh_retry = False

    # -- request side ------------------------------------------------------------------------

    def queue(self, data: bytes) -> None:
        self.unsent.append(data)
        if self.replay is not None:
            self.replay_size += len(data)
            if self.replay_size > REPLAY_LIMIT:
                self.replay = None
            else:
                self.replay.append(data)

    def flush(self) -> None:
        conn = self.conn
        if conn is not None and self.unsent:
            conn.transport.write(b"".join(self.unsent) if len(self.unsent) > 1 else self.unsent[0])
            self.unsent.clear()
            self.sent = True

    def assign(self, backend: Backend) -> None:
        self.backend = backend
        backend.in_flight += 1
        idle = backend.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                self.attach(conn)
                return
        self.client.listener.loop.create_task(self._connect(backend))

    async def _connect(self, backend: Backend) -> None:
        listener = self.client.listener
        try:
            _, conn = await asyncio.wait_for(
                listener.loop.create_connection(lambda: BackendConnection(backend), backend.host, backend.port),
                listener.timeouts.connect)
        except (OSError, asyncio.TimeoutError) as exc:
            if self.backend is backend and self.conn is None:
                self.backend_failed(None, refused=isinstance(exc, ConnectionRefusedError))
            return
        if self.backend is not backend or self.client.closed:  # gave up meanwhile
            conn.close()
            return
        self.attach(conn)

    def attach(self, conn: BackendConnection) -> None:
        conn.ex = self
        self.conn = conn
        self.flush()
        client = self.client
        if not client.closed and not client.transport.is_reading():
            client.transport.resume_reading()
        if self.timer is None:
            self.timer = self.client.listener.loop.call_later(
                self.client.listener.timeouts.response, self._timed_out)

    def _timed_out(self) -> None:
        self.timer = None
        if self.conn is not None and not self.response_started:
            conn, self.conn = self.conn, None
            conn.ex = None
            conn.close()
            self.client.fail(self, 504, "the version did not answer in time")

    # -- response side -----------------------------------------------------------------------

    def response_head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]],
                      framed: bool, chunked: bool) -> bytes:
        """The response head for the client; decides framing and whether the client stays open."""
        self.status = status
        if self.timer is not None and status >= 200:
            self.timer.cancel()
            self.timer = None
        out = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        drop = _connection_tokens(headers)
        upgrade_to = None
        for name, value in headers:
            lname = name.lower()
            if lname in HOP_BY_HOP or lname in drop:
                if lname == b"upgrade":
                    upgrade_to = value
                continue
            out.append(name + b": " + value + b"\r\n")
        has_body = not (self.method == b"HEAD" or status in (204, 304) or status < 200)
        if self.upgrade and status != 101:
            self.close_client = True  # the client's parser stopped at the upgrade request
        if status == 101 and upgrade_to is not None:
            out.append(b"connection: upgrade\r\nupgrade: " + upgrade_to + b"\r\n")
        elif status >= 200:
            self.response_started = True
            if has_body and (chunked or not framed):
                if self.http11:
                    self.response_chunked = True
                    out.append(b"transfer-encoding: chunked\r\n")
                else:
                    self.close_client = True  # HTTP/1.0: the end of the body is the end of the connection
            if self.set_cookie is not None:
                out.append(b"set-cookie: %s=%s; Path=/; HttpOnly; SameSite=Lax\r\n"
                           % (self.client.listener.routes.pin_cookie, self.set_cookie.encode()))
            if self.close_client or not self.keep_alive:
                self.close_client = True
                out.append(b"connection: close\r\n")
            elif not self.http11:
                out.append(b"connection: keep-alive\r\n")
        out.append(b"\r\n")
        return b"".join(out)

    def response_complete(self, conn: BackendConnection, reusable: bool) -> None:
        backend = self.backend
        backend.in_flight -= 1
        backend.stats.record(self.status, self.client.listener.loop.time() - self.started)
        self.conn = None
        conn.ex = None
        if reusable and self.request_complete and not conn.closed and backend.pooling:
            conn.reused = True
            conn.idle_since = self.client.listener.loop.time()
            backend.idle.append(conn)
        else:
            conn.close()
        if not self.request_complete:
            self.close_client = True
        self.client.exchange_done(self)

    def backend_failed(self, conn: BackendConnection | None, *, refused: bool = False) -> None:
        """The connection to the version failed; retry where the rules allow, else answer 502."""
        backend = self.backend
        backend.stats.connection_errors += 1
        backend.in_flight -= 1
        if refused:
            backend.mark_unhealthy("refuses connections")
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.conn = None
        self.backend = None
        client = self.client
        if self.response_started:  # the client has part of a response: all we can do is cut it
            backend.stats.record(502, client.listener.loop.time() - self.started)
            client.transport.close()
            return
        if client.closed:
            return
        reused = conn is not None and conn.reused
        if not self.sent or (self.method in IDEMPOTENT and self.replay is not None):
            target = None
            if reused and not self.fresh_retry and backend.ready:
                self.fresh_retry = True  # a pooled connection went stale: try once on a fresh one
                target = backend
            else:
                self.tried += (backend,)
                target = client.listener.routes.pick(exclude=self.tried)
            if target is not None:
                if self.sent:
                    self.unsent = list(self.replay)
                    self.sent = False
                if target is backend:
                    target.in_flight += 1
                    self.backend = target
                    client.listener.loop.create_task(self._connect(target))
                else:
                    self.assign(target)
                return
        backend.in_flight += 1  # fail() settles the count and records the 502 against this version
        self.backend = backend
        client.fail(self, 502, "the version closed the connection" if conn else "cannot connect to the version")


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
        drop = _connection_tokens(ex.headers)
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


class BackendConnection(asyncio.Protocol):
    """A (pooled) connection to one version."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.ex: Exchange | None = None
        self.tunnel: ClientConnection | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.out: list[bytes] = []
        self.interim = False
        self.head_seen = False
        self.head_done = False
        self.framed = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.tunnel is not None:
            client, self.tunnel = self.tunnel, None
            self.backend.in_flight -= 1
            client.transport.close()
            return
        ex = self.ex
        if ex is None:
            return
        if self.head_seen and not self.framed and ex.response_started:  # body ended by close: complete
            if ex.response_chunked:
                self.out.append(b"0\r\n\r\n")
            self.flush()
            ex.response_complete(self, False)
            return
        self.out.clear()
        self.ex = None
        ex.backend_failed(self)

    def eof_received(self) -> bool:
        return False

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.transport.write(data)
            return
        if self.ex is None:  # nobody asked: a confused server; do not reuse
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._switch_protocols(data[upgrade.args[0]:])
            return
        except httptools.HttpParserError:
            ex, self.ex = self.ex, None
            self.out.clear()
            self.close()
            if ex is not None:
                ex.backend_failed(self)
            return
        if self.head_done:
            self.head_done = False
            reusable = self.parser.should_keep_alive()
            self.parser = httptools.HttpResponseParser(self)
            self.flush()
            self.ex.response_complete(self, reusable)
            return
        self.flush()

    def flush(self) -> None:
        if self.out and self.ex is not None and not self.ex.client.closed:
            out = self.out
            self.ex.client.transport.write(b"".join(out) if len(out) > 1 else out[0])
        self.out = []

    def on_message_begin(self) -> None:
        self.headers = []
        self.reason = b""
        self.head_seen = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        ex = self.ex
        if ex is None:
            return
        status = self.parser.get_status_code()
        framed = chunked = False
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length":
                framed = True
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        self.framed = framed or chunked or status in (204, 304) or status < 200
        self.interim = 100 <= status < 200 and status != 101
        self.head_seen = True
        self.out.append(ex.response_head(status, self.reason or b"-", self.headers, framed, chunked))
        if ex.method == b"HEAD" and not self.interim and status != 101:
            # llhttp cannot be told the request was HEAD and would wait for a body: data_received
            # finishes the exchange and starts a fresh parser once this feed is over.
            self.head_done = True

    def on_body(self, body: bytes) -> None:
        ex = self.ex
        if ex is None or self.head_done:
            return
        if ex.response_chunked:
            self.out.append(b"%x\r\n%s\r\n" % (len(body), body))
        else:
            self.out.append(body)

    def on_message_complete(self) -> None:
        ex = self.ex
        if ex is None or self.interim or ex.status == 101 or self.head_done:
            self.interim = False
            return
        if ex.response_chunked:
            self.out.append(b"0\r\n\r\n")
        self.flush()
        ex.response_complete(self, self.parser.should_keep_alive())

    def _switch_protocols(self, tail: bytes) -> None:
        """The version accepted an upgrade: from now on both sides are a byte tunnel."""
        ex = self.ex
        if ex is None or ex.status != 101 or ex.tunnel_tail is None:
            self.close()
            return
        if ex.timer is not None:
            ex.timer.cancel()
            ex.timer = None
        if tail:
            self.out.append(tail)
        self.flush()
        client = ex.client
        ex.backend.stats.record(101, client.listener.loop.time() - ex.started)
        self.ex = None
        self.tunnel = client
        client.tunnel = self
        client.active = None
        if ex.tunnel_tail:
            self.transport.write(b"".join(ex.tunnel_tail))

    def pause_writing(self) -> None:
        client = self.tunnel or (self.ex.client if self.ex else None)
        if client is not None and not client.closed:
            client.transport.pause_reading()

    def resume_writing(self) -> None:
        client = self.tunnel or (self.ex.client if self.ex else None)
        if client is not None and not client.closed:
            client.transport.resume_reading()


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in ``Connection`` (hop-by-hop by declaration)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if len(name) == 10 and name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    tokens.discard(b"close")
    tokens.discard(b"keep-alive")
    tokens.discard(b"upgrade")
    return frozenset(tokens)
