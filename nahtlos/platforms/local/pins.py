"""Session pins: which version a user session stays on while a canary runs.

A session is identified by the application's session cookie, else by the
router's own cookie. Only a digest of the cookie value is kept (in memory and
in the state directory), never the value itself: a session id is a secret.

The router's cookie carries the version that served the session's first
request (``<random>-<version>``). A pin is recorded when the cookie comes
back, so clients that ignore cookies never fill the table.
"""

from __future__ import annotations

import hashlib
import os
from typing import Iterable


def session_digest(kind: bytes, value: bytes) -> str:
    return hashlib.blake2b(kind + b"\0" + value, digest_size=12).hexdigest()


def new_router_cookie(version: str, token: bytes | None = None) -> str:
    """``<token>-<version>``; the token identifies the session, the version is where it started."""
    return f"{(token or os.urandom(9).hex().encode()).decode()}-{version}"


def parse_router_cookie(value: bytes) -> tuple[bytes | None, str | None]:
    """(token, version) of a router cookie, or (None, None) when it is not one of ours."""
    token, sep, version = value.partition(b"-")
    if not sep or len(token) != 18 or not version or not version.isascii():
        return None, None
    return token, version.decode("ascii")


class PinTable:
    """digest -> [version, last_seen (monotonic)]; expired after ``idle_seconds`` without requests."""

    def __init__(self, *, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._pins: dict[str, list] = {}
        self.changed = False  # set when the persisted form would differ (not for touches)

    def lookup(self, digest: str, now: float) -> str | None:
        pin = self._pins.get(digest)
        if pin is None:
            return None
        if now - pin[1] > self.idle_seconds:
            del self._pins[digest]
            self.changed = True
            return None
        pin[1] = now
        return pin[0]

    def pin(self, digest: str, version: str, now: float) -> None:
        self._pins[digest] = [version, now]
        self.changed = True

    def count_by_version(self, now: float) -> dict[str, int]:
        counts: dict[str, int] = {}
        for version, seen in self._pins.values():
            if now - seen <= self.idle_seconds:
                counts[version] = counts.get(version, 0) + 1
        return counts

    def move(self, from_version: str, to_version: str) -> int:
        moved = 0
        for pin in self._pins.values():
            if pin[0] == from_version:
                pin[0] = to_version
                moved += 1
        self.changed = self.changed or moved > 0
        return moved

    def forget_version(self, version: str) -> None:
        stale = [d for d, pin in self._pins.items() if pin[0] == version]
        for digest in stale:
            del self._pins[digest]
        self.changed = self.changed or bool(stale)

    def expire(self, now: float) -> None:
        stale = [d for d, (_, seen) in self._pins.items() if now - seen > self.idle_seconds]
        for digest in stale:
            del self._pins[digest]
        self.changed = self.changed or bool(stale)

    def dump(self, now: float) -> dict[str, list]:
        """Persistable form: digest -> [version, idle seconds]."""
        return {d: [v, round(now - seen, 3)] for d, (v, seen) in self._pins.items()}

    def load(self, data: dict[str, Iterable], now: float) -> None:
        for digest, (version, idle) in data.items():
            if float(idle) <= self.idle_seconds:
                self._pins[str(digest)] = [str(version), now - float(idle)]

    def __len__(self) -> int:
        return len(self._pins)
