"""The version side of the proxy: one ``Exchange`` per request, ``BackendConnection`` per pooled socket.

An exchange picks its connection (pooled, else a new one), streams the request,
turns the version's response head into the client's, and applies the retry
rules when the connection fails (see ``proxy``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httptools

from nahtlos.platforms.local.http1 import HOP_BY_HOP, IDEMPOTENT, REPLAY_LIMIT, connection_tokens

if TYPE_CHECKING:
    from nahtlos.platforms.local.proxy import ClientConnection
    from nahtlos.platforms.local.routes import Backend


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
        drop = connection_tokens(headers)
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
