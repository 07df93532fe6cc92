"""Redis backend of the session store (redis-py, one JSON string per key).

Reads are pipelined (MGET, PTTL); the schema census runs as a script inside
Redis, so contents never leave it. Compare-and-set rewrites live in
``redis_writer``. Redis errors are mapped at the edge (``redis_errors``) to
``StoreUnreachable`` (transient) or ``SessionError``; their text never holds
record contents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from nahtlos.errors import SessionError
from nahtlos.sessions.redis_errors import redis_edge
from nahtlos.sessions.redis_writer import RedisWriter
from nahtlos.sessions.store import Expiring

_SCHEMAS = """
local field = ARGV[1]
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'none' then
    out[i] = -1
  elseif kind ~= 'string' then
    out[i] = -4
  else
    local ok, doc = pcall(cjson.decode, redis.call('GET', key))
    if not ok then
      out[i] = -2
    elseif type(doc) ~= 'table' then
      out[i] = -3
    else
      local s = doc[field]
      if type(s) == 'number' and s >= 0 and s == math.floor(s) then out[i] = s else out[i] = -3 end
    end
  end
end
return out
"""


class RedisSessionStore:
    """A ``SessionStore`` over one Redis database."""

    def __init__(self, client: redis.Redis, *, name: str | None = None) -> None:
        self._client = client
        kwargs = client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
        self.name = name or f"redis://{where}"  # never the password
        self._schemas = client.register_script(_SCHEMAS)

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 10.0, retries: int | None = None) -> "RedisSessionStore":
        """``retries``: how often redis-py itself retries a command on a broken connection
        (None: its default, which rides out a restart of a few seconds)."""
        options: dict[str, object] = {}
        if retries is not None:
            options["retry"] = Retry(ExponentialBackoff(cap=1.0, base=0.01), retries)
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                      decode_responses=False, **options)
        return cls(client)

    def close(self) -> None:
        self._client.close()

    def _edge(self, action: str) -> AbstractContextManager[None]:
        return redis_edge(action, self.name)

    def scan(self, *, pattern: str, batch: int) -> Iterator[list[str]]:
        cursor = 0
        while True:
            with self._edge("scanning session keys"):
                cursor, keys = self._client.scan(cursor=cursor, match=pattern, count=batch)
            if keys:
                yield [k.decode() for k in keys]
            if cursor == 0:
                return

    def read(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        with self._edge("reading sessions"):
            return self._client.mget(keys)

    def read_with_expiry(self, keys: Sequence[str]) -> list[Expiring]:
        if not keys:
            return []
        with self._edge("reading sessions"):
            pipe = self._client.pipeline(transaction=False)
            pipe.mget(keys)
            for key in keys:
                pipe.pttl(key)
            values, *ttls = pipe.execute()
        return [Expiring(raw, ttl if ttl >= 0 else None) for raw, ttl in zip(values, ttls)]

    def schemas(self, keys: Sequence[str], *, field: str) -> list[int]:
        if not keys:
            return []
        with self._edge("counting session formats"):
            return [int(code) for code in self._schemas(keys=list(keys), args=[field])]

    def writer(self, *, track_prefix: str | None = None) -> RedisWriter:
        return RedisWriter(self._client.connection_pool, name=self.name, track_prefix=track_prefix)

    def journal(self, journal: str, keys: Sequence[str]) -> list[tuple[str, str] | None]:
        if not keys:
            return []
        with self._edge("reading the migration journal"):
            entries = self._client.hmget(journal, list(keys))
        return [tuple(e.decode().split(":", 1)) if e else None for e in entries]  # type: ignore[misc]

    def members(self, set_key: str, keys: Sequence[str]) -> list[bool]:
        if not keys:
            return []
        with self._edge("reading the ended sessions"):
            return [bool(found) for found in self._client.smismember(set_key, list(keys))]

    def clear_journal(self, journal: str) -> None:
        with self._edge("clearing the migration journal"):
            self._client.delete(journal)

    def get_int(self, key: str) -> int | None:
        with self._edge(f"reading {key}"):
            value = self._client.get(key)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise SessionError(f"control key {key} does not hold an integer", subject=self.name,
                               hint="set it with nahtlos or delete it") from None

    def set_int(self, key: str, value: int | None) -> None:
        with self._edge(f"writing {key}"):
            if value is None:
                self._client.delete(key)
            else:
                self._client.set(key, str(int(value)))

    def ping(self) -> None:
        with self._edge("ping"):
            self._client.ping()
