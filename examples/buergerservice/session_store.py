"""Server-side user sessions in Redis, as the gateway and the portal use them.

One JSON string per session under ``session:<id>``, TTL = idle timeout,
refreshed on every read (``GETEX``). In memory a version always works on the
latest format (``sessions.LATEST``); what it may *read* from Redis and what
it *writes* back follow its descriptor entry (``session: {reads, writes,
can_write}``). A record in a format the version does not read is treated as
no session at all: that is the real failure a session handoff prevents, and
the synthetic users see it as a lost session.

Writes follow the format control key (contract 3): a background task reads
it every second; when it names a format this version can write, records are
written in that format, otherwise in the version's own default.

Writes are compare-and-set against the raw record that was read (one Lua
call), so a concurrent rewrite of the key by the session handoff is never
overwritten with stale contents: the change is re-applied on the fresh record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from examples.buergerservice.sessions import LATEST, migrate, schema_of

log = logging.getLogger("buergerservice.sessions")

_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


ENDED_KEEP_SECONDS = 86_400  # the ended set outlives any migration window


@dataclass(frozen=True)
class SessionFormats:
    """The ``session:`` entry of one module version in the descriptor."""

    reads: frozenset[int]
    writes: int
    can_write: frozenset[int]


class SessionUnreadable(Exception):
    """The record exists but this version cannot read it (reason carries no contents)."""


@dataclass
class LoadedSession:
    sid: str
    raw: bytes  # the record exactly as read: the compare-and-set reference
    record: dict[str, Any]  # in format LATEST


class SessionStore:
    def __init__(self, redis: Redis, *, formats: SessionFormats, idle_seconds: int, format_key: str,
                 key_prefix: str = "session:", poll_seconds: float = 1.0, ended_key: str | None = None) -> None:
        self._redis, self.formats, self.idle = redis, formats, idle_seconds
        self._format_key, self._prefix, self._poll = format_key, key_prefix, poll_seconds
        self._ended_key = ended_key or format_key.replace("session-format", "session-ended")
        self._cas = redis.register_script(_COMPARE_AND_SET)
        self._control: int | None = None
        self._poller: asyncio.Task[None] | None = None

    # -- format control key ------------------------------------------------

    @property
    def write_format(self) -> int:
        """The format records are written in now."""
        control = self._control
        return control if control in self.formats.can_write else self.formats.writes

    async def start(self) -> None:
        await self._read_control()
        self._poller = asyncio.create_task(self._follow_control())

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)

    async def _follow_control(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            await self._read_control()

    async def _read_control(self) -> None:
        try:
            raw = await self._redis.get(self._format_key)
        except RedisError as exc:
            log.warning("cannot read the session format key: %s", type(exc).__name__)
            return  # keep the last known format
        try:
            control = int(raw) if raw is not None else None
        except ValueError:
            log.warning("session format key %s does not hold an integer; ignored", self._format_key)
            control = None
        if control != self._control:
            self._control = control
            log.info("session format key now %s: writing format %s", control, self.write_format)

    # -- records -----------------------------------------------------------

    def _key(self, sid: str) -> str:
        return self._prefix + sid

    def _decode(self, raw: bytes) -> dict[str, Any]:
        try:
            record = json.loads(raw)
            schema = schema_of(record)
        except ValueError as exc:
            raise SessionUnreadable(str(exc)) from None
        if schema not in self.formats.reads:
            raise SessionUnreadable(f"format {schema} is not one this version reads")
        try:
            return migrate(record, LATEST)
        except ValueError as exc:
            raise SessionUnreadable(str(exc)) from None

    def _encode(self, record: dict[str, Any]) -> str:
        return json.dumps(migrate(record, self.write_format), separators=(",", ":"))

    async def create(self, account: dict[str, str]) -> str:
        sid = secrets.token_urlsafe(24)
        record = {"schema": LATEST, "created": time.time(), "account": account, "drafts": {}}
        await self._redis.set(self._key(sid), self._encode(record), ex=self.idle, nx=True)
        return sid

    async def load(self, sid: str, *, touch: bool = True) -> LoadedSession | None:
        """The session (None if missing); a read refreshes its idle timeout."""
        key = self._key(sid)
        raw = await (self._redis.getex(key, ex=self.idle) if touch else self._redis.get(key))
        if raw is None:
            return None
        return LoadedSession(sid, raw, self._decode(raw))

    async def update(self, loaded: LoadedSession, change: Callable[[dict[str, Any]], None],
                     *, attempts: int = 5) -> LoadedSession | None:
        """Apply ``change`` to the record and write it back; None if the session vanished."""
        current: LoadedSession | None = loaded
        for _ in range(attempts):
            if current is None:
                return None
            record = json.loads(json.dumps(current.record))  # deep copy: retries start clean
            change(record)
            encoded = self._encode(record)
            if await self._cas(keys=[self._key(current.sid)], args=[current.raw, encoded, self.idle]):
                return LoadedSession(current.sid, encoded.encode(), record)
            current = await self.load(current.sid, touch=False)
        raise SessionUnreadable("the record kept changing while it was written")

    async def delete(self, sid: str) -> None:
        """End a session on purpose (logout), and say so in the ended set, so that a session
        handoff running meanwhile counts it as ended by its user, not as lost."""
        key = self._key(sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key).sadd(self._ended_key, key).expire(self._ended_key, ENDED_KEEP_SECONDS)
            await pipe.execute()


def store_from_env(redis: Redis, formats: SessionFormats) -> SessionStore:
    """The store as configured by the environment the platform gives every module."""
    app = os.environ.get("NAHTLOS_APP", "buergerservice")
    return SessionStore(
        redis, formats=formats,
        idle_seconds=int(os.environ.get("SESSION_IDLE_SECONDS", "1800")),
        format_key=os.environ.get("SESSION_FORMAT_KEY", f"nahtlos:session-format:{app}"),
        key_prefix=os.environ.get("SESSION_KEY_PREFIX", "session:"),
    )
