"""Compare-and-set rewrites on one Redis connection, and who else wrote meanwhile.

A rewrite is optimistic locking: WATCH + MGET the batch, convert, then
MULTI / SET KEEPTTL XX per record / one HSET of the journal entries / EXEC.
EXEC fails when any key of the batch was written meanwhile; the batch is then
halved until the keys users wrote are isolated and returned as CHANGED (a
compare-and-set per record, at the price of one transaction per batch when
nobody interferes). Both round trips are packed by hand: redis-py's pipeline
costs the client ~3 times more per command, and a write script cost Redis ~7 µs
per record in Lua argument handling against ~2 µs for a SET (comparing the 2 KB
values inside a script cost ~10 times more still).

With ``track_prefix`` the writer also asks Redis to push the keys under that
prefix that *other* clients modify (CLIENT TRACKING ON BCAST NOLOOP, over RESP3,
so the pushes arrive on the writer's own connection between its replies). A
migration uses that to re-read after a pass only the keys someone touched,
instead of every key. Where Redis cannot track (before 6.0, or CLIENT refused
by an ACL), ``touched`` answers None and the migration reads everything again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis
from redis.connection import Connection

from nahtlos.sessions.redis_errors import redis_edge
from nahtlos.sessions.store import Cas, Plan, Rewrite

try:  # hiredis (a dependency) packs a command ~4 times faster than redis-py's own packer
    from hiredis import pack_command as _pack_one
except ImportError:  # pragma: no cover - hiredis ships wheels for every supported platform
    _pack_one = None

JOURNAL_TTL_SECONDS = 7 * 24 * 3600


class RedisWriter:
    """A ``SessionWriter`` holding its own connection until ``close``."""

    def __init__(self, pool: redis.ConnectionPool, *, name: str, track_prefix: str | None = None) -> None:
        self._pool, self._name = pool, name
        self._touched: set[str] = set()
        self._complete = False  # whether ``_touched`` holds every key others modified since the last call
        self._tracking = False  # False once the tracked connection was lost: a new one is not tracked
        self._own = False  # a tracked connection is ours, not the pool's
        self._keys: list[str] = []  # the batch between ``begin`` and ``finish``
        self._rewrites: list[Rewrite] = []
        self._plan: Plan | None = None
        self._journal = ""
        with redis_edge("connecting a session writer", name):
            self._conn: Connection = pool.get_connection()
            if track_prefix is not None:
                self._track(track_prefix)

    def __enter__(self) -> "RedisWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self._conn.disconnect()  # ends the tracking too
        else:
            self._pool.release(self._conn)

    def _track(self, prefix: str) -> None:
        conn = self._pool.connection_class(**{**self._pool.connection_kwargs, "protocol": 3})
        try:
            conn.connect()
            # redis-py reads pushes while it waits for a reply, and hands invalidations to this handler.
            conn._parser.set_invalidation_push_handler(self._heard)
            conn.send_command("CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "PREFIX", prefix)
            conn.read_response()
        except redis.ResponseError:  # no tracking here: ``touched`` will say it does not know
            conn.disconnect()
            return
        self._pool.release(self._conn)
        self._conn, self._own = conn, True
        self._complete = self._tracking = True

    def _heard(self, push: list) -> None:
        """[b"invalidate", [key, ...]]; None instead of keys after FLUSHDB / FLUSHALL."""
        if push[1] is None:
            self._complete = False
        else:
            self._touched.update(key.decode() for key in push[1])

    def touched(self) -> set[str] | None:
        """Keys that other clients modified (or that expired) since the last call, or since the
        writer was opened; None when they cannot be known. Every modification Redis processed
        before this call is included: two PINGs act as a barrier, because Redis pushes the keys
        of one event-loop iteration only at its end."""
        if not self._tracking:
            return None
        with self._guard("reading which sessions others wrote"):
            for _ in range(2):
                self._conn.send_command("PING")
                self._conn.read_response()
        touched, complete = self._touched, self._complete
        self._touched, self._complete = set(), True
        return touched if complete else None

    # A rewrite in three steps, so that one thread can keep several writers busy: each step
    # sends its request and returns; the next step reads the reply Redis prepared meanwhile.

    def begin(self, keys: Sequence[str]) -> None:
        """Lock ``keys`` (WATCH) and ask for their values."""
        self._keys = list(keys)
        with self._guard("reading sessions"):
            self._send([("WATCH", *self._keys), ("MGET", *self._keys)])

    def write(self, plan: Plan, *, journal: str) -> None:
        """Take the values ``begin`` asked for, ask ``plan`` for the rewrites and send them as one
        transaction: MULTI, SET KEEPTTL XX per record, the journal entries, EXEC."""
        self._plan, self._journal = plan, journal
        with self._guard("rewriting sessions"):
            self._conn.read_response()  # WATCH: OK
            rewrites = self._rewrites = plan(list(zip(self._keys, self._conn.read_response())))
            if not rewrites:
                self._send([("UNWATCH",)])
                return
            entries = [part for item in rewrites for part in (item.key, item.journal_entry)]
            self._send([("MULTI",), *(("SET", item.key, item.value, "KEEPTTL", "XX") for item in rewrites),
                        ("HSET", journal, *entries), ("EXPIRE", journal, JOURNAL_TTL_SECONDS), ("EXEC",)])

    def finish(self) -> dict[str, Cas]:
        """The outcome of every key ``write`` planned. When someone wrote one of the keys after
        ``begin``, the batch is done again, halved until those keys stand alone as CHANGED."""
        outcomes = self._outcomes()
        return self.rewrite(self._keys, self._plan, journal=self._journal) if outcomes is None else outcomes

    def rewrite(self, keys: Sequence[str], plan: Plan, *, journal: str) -> dict[str, Cas]:
        """``begin``, ``write`` and ``finish`` at once."""
        outcomes: dict[str, Cas] = {}
        groups = [list(keys)] if keys else []
        while groups:
            group = groups.pop()
            self.begin(group)
            self.write(plan, journal=journal)
            done = self._outcomes()
            if done is not None:
                outcomes.update(done)
            elif len(group) == 1:  # someone wrote it meanwhile; the caller reads it again
                outcomes[group[0]] = Cas.CHANGED
            else:
                groups += [group[: len(group) // 2], group[len(group) // 2:]]
        return outcomes

    def _outcomes(self) -> dict[str, Cas] | None:
        """The transaction's result; None when EXEC was aborted because a watched key changed."""
        with self._guard("rewriting sessions"):
            if not self._rewrites:
                self._conn.read_response()  # UNWATCH: OK
                return {}
            for _ in range(len(self._rewrites) + 3):  # MULTI: OK, then QUEUED per command
                self._conn.read_response()  # a command Redis refuses raises here
            replies = self._conn.read_response()
            if replies is None:
                return None
            outcomes = {}
            for item, reply in zip(self._rewrites, replies):
                if isinstance(reply, Exception):
                    raise reply
                # XX: a vanished key stays gone (cannot happen under WATCH, which expiry aborts too)
                outcomes[item.key] = Cas.WRITTEN if reply is not None else Cas.GONE
            return outcomes

    def _send(self, commands: list[tuple[bytes | str | int, ...]]) -> None:
        self._conn.send_packed_command(_packed(self._conn, commands))

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Errors mapped at the edge. After any failure the connection may hold watches, a
        transaction or unread replies: it starts afresh, and, being new, is not tracked."""
        with redis_edge(action, self._name):
            try:
                yield
            except BaseException:
                self._conn.disconnect()
                self._tracking = False
                raise


def _packed(conn: Connection, commands: list[tuple[bytes | str | int, ...]]) -> list[bytes]:
    """``commands`` in the Redis protocol, as one buffer: one send for a whole transaction."""
    if _pack_one is None:
        return conn.pack_commands(commands)
    return [b"".join([_pack_one(command) for command in commands])]
