"""The routing table of one module: its versions, weights, pins and health.

This is the router's decision logic, separate from the HTTP mechanics in
``proxy``. New sessions follow the weights (smooth weighted round robin, so
a 10 % canary gets exactly every tenth new session); pinned sessions stay on
their version while it can serve; retries go to another ready version.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from nahtlos.platforms.local.pins import PinTable, new_router_cookie, parse_router_cookie, session_digest
from nahtlos.platforms.local.stats import VersionStats

if TYPE_CHECKING:
    from nahtlos.platforms.local.proxy import BackendConnection


class Backend:
    """One running version as the router sees it."""

    __slots__ = ("module", "version", "host", "port", "weight", "ready", "draining", "in_flight",
                 "stats", "idle", "current", "message", "pooling")

    def __init__(self, module: str, version: str, host: str, port: int) -> None:
        self.module, self.version, self.host, self.port = module, version, host, port
        self.weight = 0
        self.ready = False  # set by the supervisor once the readiness path answered
        self.draining = False
        self.in_flight = 0
        self.stats = VersionStats()
        self.idle: list[BackendConnection] = []  # keep-alive pool, most recently used last
        self.current = 0  # smooth weighted round robin state
        self.message: str | None = None
        self.pooling = True  # False once the version is being removed: connections are not kept

    def mark_unhealthy(self, message: str) -> None:
        """Passive health: stop sending new work here until the readiness path answers again."""
        self.ready = False
        self.message = message

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close_idle(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


class ModuleRoutes:
    """Versions of one module and how requests are spread over them."""

    def __init__(self, module: str, *, session_cookie: str | None, pin_idle_seconds: float,
                 pin_cookie: str = "nahtlos_pin") -> None:
        self.module = module
        self.backends: dict[str, Backend] = {}
        self.pins = PinTable(idle_seconds=pin_idle_seconds)
        self.moved: dict[str, str] = {}  # version whose sessions were moved -> where they went
        self.unrouted = 0  # requests answered 503 because no version could take them
        self.session_cookie = session_cookie.encode() if session_cookie else None
        self.pin_cookie = pin_cookie.encode()

    # -- choosing a version ------------------------------------------------------------------

    def pick(self, exclude: tuple[Backend, ...] = ()) -> Backend | None:
        """A version for a new session: by weight among ready ones, else any ready one."""
        total, best = 0, None
        for b in self.backends.values():
            if b.weight > 0 and b.ready and not b.draining and b not in exclude:
                b.current += b.weight
                total += b.weight
                if best is None or b.current > best.current:
                    best = b
        if best is not None:
            best.current -= total
            return best
        # Nothing weighted can serve (e.g. the stable version crashed): any ready version beats a 503.
        spare = [b for b in self.backends.values() if b.ready and b not in exclude]
        spare.sort(key=lambda b: b.draining)
        return spare[0] if spare else None

    def route(self, cookie_header: bytes | None, *, router_cookie: bool) -> tuple[Backend | None, str | None]:
        """(version to use, router cookie to set or None) for a request carrying ``cookie_header``.

        Only the public entry uses the router's own cookie: behind it, callers are other modules
        whose HTTP clients keep cookie jars, and pinning a whole module version to one version of
        the next module would starve a canary. There, only the application's session cookie pins.
        """
        app_value = pin_value = None
        if cookie_header:
            app_value, pin_value = self._cookies(cookie_header)
            if not router_cookie:
                pin_value = None
        token, cookie_version = parse_router_cookie(pin_value) if pin_value else (None, None)
        if app_value is not None:
            digest = session_digest(b"app", app_value)
        elif token is not None:
            digest = session_digest(b"pin", token)
        else:  # a new session: follows the weights
            backend = self.pick()
            return backend, (new_router_cookie(backend.version) if backend and router_cookie else None)
        now = time.monotonic()
        known = self.pins.lookup(digest, now)
        recorded = known is not None
        if known is None and cookie_version is not None:
            known = self._follow_moves(cookie_version)
        backend = self.backends.get(known) if known else None
        if backend is None or not backend.ready:  # its version is gone or unhealthy: re-pin by weight
            backend = self.pick()
        if backend is None:
            return None, None
        if not recorded or backend.version != known:
            self.pins.pin(digest, backend.version, now)
        if cookie_version == backend.version or not router_cookie:
            return backend, None
        return backend, new_router_cookie(backend.version, token)

    def retry_target(self, failed: tuple[Backend, ...]) -> Backend | None:
        return self.pick(exclude=failed)

    def _follow_moves(self, version: str) -> str:
        for _ in range(8):  # moves form short chains (A -> B -> C); bounded against cycles
            if version not in self.moved:
                break
            version = self.moved[version]
        return version

    def _cookies(self, header: bytes) -> tuple[bytes | None, bytes | None]:
        app_value = pin_value = None
        if (self.session_cookie is None or self.session_cookie not in header) and self.pin_cookie not in header:
            return None, None
        for part in header.split(b";"):
            name, sep, value = part.strip().partition(b"=")
            if not sep:
                continue
            if name == self.session_cookie and value:
                app_value = value
            elif name == self.pin_cookie and value:
                pin_value = value
        return app_value, pin_value

    # -- control -----------------------------------------------------------------------------

    def live_split(self) -> dict[str, int]:
        """The split the router applies right now, given which weighted versions can serve."""
        serving = {v: b.weight for v, b in self.backends.items() if b.weight > 0 and b.ready and not b.draining}
        total = sum(serving.values())
        if total == 0:  # pick() falls back to one ready version: that one gets everything
            fallback = self.pick()
            return {v: 100 if fallback is not None and v == fallback.version else 0 for v in self.backends}
        shares = {v: w * 100 // total for v, w in serving.items()}
        remainder = 100 - sum(shares.values())
        for v in sorted(serving, key=lambda v: -(serving[v] * 100 % total))[:remainder]:
            shares[v] += 1
        return {v: shares.get(v, 0) for v in self.backends}

    def set_weights(self, weights: dict[str, int]) -> None:
        for version, backend in self.backends.items():
            backend.weight = weights.get(version, 0)
            backend.current = 0
            if backend.weight > 0:
                backend.draining = False

    def move_sessions(self, from_version: str, to_version: str) -> int:
        self.moved[from_version] = to_version
        self.moved.pop(to_version, None)
        return self.pins.move(from_version, to_version)

    def pinned_counts(self) -> dict[str, int]:
        return self.pins.count_by_version(time.monotonic())

    def remove(self, version: str) -> Backend | None:
        backend = self.backends.pop(version, None)
        if backend is not None:
            backend.pooling = False
            backend.close_idle()
        self.pins.forget_version(version)
        return backend
