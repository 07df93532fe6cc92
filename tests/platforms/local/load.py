"""Constant-rate HTTP load for zero-downtime tests: keep-alive, no retries, bounded.

Requests are started on a fixed schedule (open loop) from an asyncio loop in a
thread, over a small pool of keep-alive connections; every outcome is kept so a
test can show exactly which request failed and why.
"""

from __future__ import annotations

import asyncio
import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    versions: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)


class ConstantLoad:
    """``with ConstantLoad(url, rate=200) as load: ...`` then ``load.result``."""

    def __init__(self, url: str, *, rate: float, timeout: float = 5.0, connections: int = 16,
                 max_seconds: float = 120.0, method: str = "GET", body: bytes | None = None) -> None:
        """Every request is a new session (cookies are refused), so the weights decide its version."""
        self.url, self.rate, self.timeout, self.connections = url, rate, timeout, connections
        self.max_seconds, self.method, self.body = max_seconds, method, body
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="constant-load", daemon=True)

    def __enter__(self) -> "ConstantLoad":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 10)

    def count(self) -> int:
        return self.result.sent

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
        transport = httpx.AsyncHTTPTransport(retries=0, limits=limits)
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout, cookies=no_cookies) as client:
            pending: set[asyncio.Task] = set()
            started = time.monotonic()
            interval = 1.0 / self.rate
            n = 0
            while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
                n += 1
                task = asyncio.create_task(self._one(client, n))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
            if pending:
                await asyncio.wait(pending)

    async def _one(self, client: httpx.AsyncClient, n: int) -> None:
        self.result.sent += 1
        began = time.monotonic()
        try:
            response = await client.request(self.method, self.url, content=self.body)
        except httpx.HTTPError as exc:
            self.result.failures.append(f"#{n}: {type(exc).__name__}: {exc}")
            return
        finally:
            self.result.slowest = max(self.result.slowest, time.monotonic() - began)
        self.result.statuses[response.status_code] += 1
        if response.status_code != 200:
            self.result.failures.append(f"#{n}: HTTP {response.status_code}: {response.text[:200]}")
            return
        if self.body is not None:  # tinyapp's /echo: the body comes back, the version in a header
            if response.content != self.body:
                self.result.failures.append(f"#{n}: echo differs")
            self.result.versions[response.headers.get("x-version", "?")] += 1
        else:
            self.result.versions[_versions(response.json())] += 1


def _versions(answer: dict) -> str:
    """'front 1.0.0 > middle 1.0.0 > back 1.1.0' for a tinyapp answer."""
    parts = []
    while answer:
        parts.append(f"{answer['module']} {answer['version']}")
        answer = answer.get("downstream")
    return " > ".join(parts)
