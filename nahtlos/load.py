"""Synthetic users: N concurrent logged-in users driving an application through its entry point.

The engine is generic. What a user does is an application's *journey*: an
object with one coroutine ``step(user)``, built per user by a factory, that
makes requests through ``user.request(...)`` and judges what it reads back
(``examples/buergerservice/users.py`` is the Buergerservice journey).

    engine = SyntheticUsers(LoadConfig(base_url="http://127.0.0.1:8080", users=500, rate=300,
                                       duration_seconds=60), journey=BuergerserviceJourney)
    report = await engine.run()        # or engine.stop() from elsewhere; engine.snapshot() meanwhile

Rules that make the numbers mean something:

- No client retries, and one keep-alive connection per user (with its own
  cookies), so dropped connections show up.
- The total request rate is paced to ``rate`` across all users, on a fixed
  schedule: after a stall the users catch up on at most one second of missed
  slots, and a server that stays slow lowers the achieved rate instead of
  piling up requests (each user has one request in flight at most).
- Every response is classified once (``Outcome``). A request made within a
  session is ``session_lost`` on a 401, a redirect to the login path, or a
  new or deleted session cookie; the journey reclassifies a read-back that
  differs from what it wrote as ``draft_lost``.
- Only loopback targets. The report holds counts, latencies and the path of
  the first failures, never cookies or anything a user typed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import ssl
import time
from enum import Enum
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FAILURE_SAMPLES = 50
CATCH_UP_SECONDS = 1.0


class Outcome(str, Enum):
    OK = "ok"
    ERROR_5XX = "error_5xx"
    ERROR_4XX = "error_4xx"  # an answer the journey did not expect: a 4xx, a stray 2xx/3xx, an unreadable body
    CONNECTION_ERROR = "connection_error"
    TIMEOUT = "timeout"
    SESSION_LOST = "session_lost"
    DRAFT_LOST = "draft_lost"


class LoadConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    users: int = Field(50, ge=1, le=20000)
    rate: float = Field(100.0, gt=0, description="target total requests per second")
    duration_seconds: float | None = Field(60.0, gt=0)
    max_requests: int | None = Field(None, ge=1)
    timeout_seconds: float = Field(10.0, gt=0)
    session_cookie: str = "bs_session"
    login_path: str = "/login"
    version_header: str = "x-served-by"
    seed: int = 0

    @field_validator("base_url")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        parts = urlsplit(value)
        host = parts.hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if parts.scheme not in ("http", "https") or not loopback:
            raise ValueError("synthetic users target loopback addresses only, e.g. http://127.0.0.1:8080")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _bounded(self) -> "LoadConfig":
        if self.duration_seconds is None and self.max_requests is None:
            raise ValueError("give duration_seconds or max_requests: a load run must stop by itself")
        return self


class Latency(BaseModel):
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0


class Failure(BaseModel):
    at: float  # epoch seconds
    method: str
    path: str  # without the query string
    outcome: Outcome
    status: int | None


class LoadReport(BaseModel):
    users: int
    started_at: float
    duration_seconds: float
    requests_total: int
    requests_failed: int  # every class except ok
    rate_achieved: float
    counts: dict[Outcome, int]
    sessions_total: int  # sessions established (logins that returned a session cookie)
    sessions_lost: int
    drafts_verified: int  # read-backs compared with what the user wrote
    drafts_lost: int
    latency: Latency
    versions: dict[str, int]  # value of the version header -> responses
    first_failure_at: float | None
    last_failure_at: float | None
    failures: list[Failure]  # the first few, for diagnosis


class Journey(Protocol):
    async def step(self, user: "VirtualUser") -> None: ...


class Reply:
    """One classified exchange. ``status`` is None when no response arrived."""

    __slots__ = ("method", "path", "status", "headers", "body", "outcome")

    def __init__(self, method: str, path: str, status: int | None, headers: httpx.Headers | None,
                 body: bytes, outcome: Outcome) -> None:
        self.method, self.path, self.status = method, path, status
        self.headers, self.body, self.outcome = headers, body, outcome

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def json(self) -> Any:
        return json.loads(self.body)


class _Stopped(Exception):
    """Raised inside a journey when the run is over; never escapes the engine."""


class VirtualUser:
    """One user: own cookies, one request at a time."""

    def __init__(self, engine: "SyntheticUsers", index: int, tls: ssl.SSLContext) -> None:
        self._engine = engine
        # One keep-alive connection per user, like a browser tab. A pool shared by hundreds of
        # users would cost O(connections) per request in httpcore's pool bookkeeping.
        self.transport = httpx.AsyncHTTPTransport(verify=tls, retries=0, limits=httpx.Limits(
            max_connections=1, max_keepalive_connections=1))
        self.index = index
        self.rng = random.Random(engine.config.seed * 1_000_003 + index)
        self.cookies: dict[str, str] = {}
        self.logged_in = False
        self.last_reply: Reply | None = None

    async def request(self, method: str, path: str, *, json: Any = None, form: dict[str, str] | None = None,
                      expect: tuple[int, ...] = (200,), authenticated: bool | None = None) -> Reply:
        """Make one paced request and classify it; ``authenticated`` defaults to ``logged_in``."""
        return await self._engine._exchange(self, method, path, json=json, form=form, expect=expect,
                                            authenticated=self.logged_in if authenticated is None else authenticated)

    def begin_session(self) -> bool:
        """After a login response: True (and counted) when it set the session cookie."""
        if self.cookies.get(self._engine.config.session_cookie):
            self.logged_in = True
            self._engine._sessions_total += 1
        return self.logged_in

    def end_session(self) -> None:
        """After a logout the user chose: forget every cookie; the next login is a new visitor."""
        self.cookies.clear()
        self.logged_in = False

    def mark_session_lost(self, reply: Reply) -> None:
        """The journey saw the session change under it (e.g. another user's identity)."""
        self._engine._reclassify(reply, Outcome.SESSION_LOST)
        self._engine._lose_session(self)

    def mark_draft_lost(self, reply: Reply) -> None:
        """The read-back in ``reply`` differs from what this user wrote."""
        self._engine._reclassify(reply, Outcome.DRAFT_LOST)
        self._engine._drafts_lost += 1

    def draft_verified(self) -> None:
        self._engine._drafts_verified += 1


class SyntheticUsers:
    def __init__(self, config: LoadConfig, *, journey: Callable[[VirtualUser], Journey]) -> None:
        self.config = config
        self._journey = journey
        self._interval = 1.0 / config.rate
        self._timeout = {k: config.timeout_seconds for k in ("connect", "read", "write", "pool")}
        self._stop = asyncio.Event()
        self._counts = {outcome: 0 for outcome in Outcome}
        self._latencies: list[float] = []
        self._versions: dict[str, int] = {}
        self._failures: list[Failure] = []
        self._first_failure: float | None = None
        self._last_failure: float | None = None
        self._sessions_total = self._sessions_lost = self._drafts_lost = self._drafts_verified = 0
        self._issued = 0
        self._started = self._start_clock = 0.0
        self._next_slot = 0.0
        self._deadline: float | None = None

    def stop(self) -> None:
        """End the run: users finish the request they are in and stop."""
        self._stop.set()

    async def run(self) -> LoadReport:
        loop = asyncio.get_running_loop()
        self._started, self._start_clock = time.time(), loop.time()
        self._next_slot = self._start_clock
        if self.config.duration_seconds is not None:
            self._deadline = self._start_clock + self.config.duration_seconds
        tls = ssl.create_default_context()  # one for all users: building one per transport is costly
        users = [VirtualUser(self, index, tls) for index in range(self.config.users)]
        tasks = [asyncio.create_task(self._drive(user)) for user in users]
        try:
            await asyncio.gather(*tasks)
        finally:
            self._stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for user in users:
                await user.transport.aclose()
        return self.snapshot()

    async def _drive(self, user: VirtualUser) -> None:
        journey = self._journey(user)
        try:
            while not self._stop.is_set():
                try:
                    await journey.step(user)
                except (ValueError, KeyError, TypeError, IndexError):
                    # The journey could not read an answer it expected (not JSON, a field
                    # missing): that answer was not ok, whatever its status said.
                    if user.last_reply is not None and user.last_reply.ok:
                        self._reclassify(user.last_reply, Outcome.ERROR_4XX)
        except _Stopped:
            pass

    async def _pace(self) -> None:
        """Wait for this request's slot in the global schedule; _Stopped when the run is over."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Keep the schedule (no coordinated omission) but forgive a backlog older than
        # CATCH_UP_SECONDS, so a stall is followed by a bounded burst, not a flood.
        slot = max(self._next_slot, now - CATCH_UP_SECONDS)
        self._next_slot = slot + self._interval
        limit = self.config.max_requests
        # A user whose slot falls past a bound stops; others still use the slots they hold.
        if self._stop.is_set() or (limit is not None and self._issued >= limit) or (
                self._deadline is not None and slot >= self._deadline):
            raise _Stopped
        self._issued += 1
        if slot > now:
            await asyncio.sleep(slot - now)
        if self._stop.is_set():
            raise _Stopped

    async def _exchange(self, user: VirtualUser, method: str, path: str, *, json: Any, form: dict[str, str] | None,
                        expect: tuple[int, ...], authenticated: bool) -> Reply:
        await self._pace()
        headers = {"accept": "application/json, text/html"}
        if user.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in user.cookies.items())
        request = httpx.Request(method, self.config.base_url + path, headers=headers, json=json, data=form,
                                extensions={"timeout": self._timeout})
        started = time.perf_counter()
        try:
            response = await user.transport.handle_async_request(request)
            try:
                body = await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            return self._record(user, Reply(method, path, None, None, b"", Outcome.TIMEOUT))
        except httpx.TransportError:
            return self._record(user, Reply(method, path, None, None, b"", Outcome.CONNECTION_ERROR))
        self._latencies.append(time.perf_counter() - started)
        version = response.headers.get(self.config.version_header)
        if version:
            self._versions[version] = self._versions.get(version, 0) + 1
        session_changed = self._take_cookies(user, response.headers)
        outcome = self._classify(response, expect=expect, authenticated=authenticated,
                                 session_changed=session_changed)
        return self._record(user, Reply(method, path, response.status_code, response.headers, body, outcome))

    def _take_cookies(self, user: VirtualUser, headers: httpx.Headers) -> bool:
        """Store Set-Cookie values; True if the session cookie was replaced or deleted."""
        changed = False
        for line in headers.get_list("set-cookie"):
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            value = value.strip().strip('"')
            deleted = not value or "max-age=0" in attributes.lower().replace(" ", "")
            if name == self.config.session_cookie and user.cookies.get(name) and (
                    deleted or value != user.cookies[name]):
                changed = True
            if deleted:
                user.cookies.pop(name, None)
            else:
                user.cookies[name] = value
        return changed

    def _classify(self, response: httpx.Response, *, expect: tuple[int, ...], authenticated: bool,
                  session_changed: bool) -> Outcome:
        status = response.status_code
        if status >= 500:
            return Outcome.ERROR_5XX
        if authenticated:
            to_login = 300 <= status < 400 and urlsplit(response.headers.get("location", "")).path == \
                self.config.login_path
            if status == 401 or to_login or session_changed:
                return Outcome.SESSION_LOST
        return Outcome.OK if status in expect else Outcome.ERROR_4XX

    def _record(self, user: VirtualUser, reply: Reply) -> Reply:
        user.last_reply = reply
        self._counts[reply.outcome] += 1
        if reply.outcome is Outcome.SESSION_LOST:
            self._lose_session(user)
        if reply.outcome is not Outcome.OK:
            self._note_failure(reply)
        return reply

    def _reclassify(self, reply: Reply, outcome: Outcome) -> None:
        if reply.outcome is outcome:
            return
        self._counts[reply.outcome] -= 1
        self._counts[outcome] += 1
        was_ok, reply.outcome = reply.outcome is Outcome.OK, outcome
        if was_ok:
            self._note_failure(reply)

    def _lose_session(self, user: VirtualUser) -> None:
        if user.logged_in:
            self._sessions_lost += 1
        user.logged_in = False
        user.cookies.pop(self.config.session_cookie, None)

    def _note_failure(self, reply: Reply) -> None:
        now = time.time()
        self._first_failure = self._first_failure or now
        self._last_failure = now
        if len(self._failures) < FAILURE_SAMPLES:
            self._failures.append(Failure(at=now, method=reply.method, path=reply.path.split("?")[0],
                                          outcome=reply.outcome, status=reply.status))

    def snapshot(self) -> LoadReport:
        """The report so far (also the final report once ``run`` returns)."""
        elapsed = max(time.time() - self._started, 1e-9) if self._started else 0.0
        total = sum(self._counts.values())
        return LoadReport(
            users=self.config.users, started_at=self._started, duration_seconds=round(elapsed, 3),
            requests_total=total, requests_failed=total - self._counts[Outcome.OK],
            rate_achieved=round(total / elapsed, 1) if elapsed else 0.0, counts=dict(self._counts),
            sessions_total=self._sessions_total, sessions_lost=self._sessions_lost,
            drafts_verified=self._drafts_verified, drafts_lost=self._drafts_lost,
            latency=_latency(self._latencies), versions=dict(self._versions),
            first_failure_at=self._first_failure, last_failure_at=self._last_failure,
            failures=list(self._failures))


def _latency(samples: list[float]) -> Latency:
    if not samples:
        return Latency()
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return Latency(p50_ms=at(0.50), p90_ms=at(0.90), p95_ms=at(0.95), p99_ms=at(0.99),
                   max_ms=round(ordered[-1] * 1000, 2), mean_ms=round(sum(ordered) / len(ordered) * 1000, 2))


def run_load(config: LoadConfig, *, journey: Callable[[VirtualUser], Journey]) -> LoadReport:
    """Blocking convenience for scripts: one run in a fresh event loop."""
    return asyncio.run(SyntheticUsers(config, journey=journey).run())
