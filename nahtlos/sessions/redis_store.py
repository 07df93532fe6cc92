"""Redis backend of the session store (redis-py, one JSON string per key).

Reads are pipelined (MGET, PTTL); each batch of writes is one Lua script that
compares the SHA-1 of every key's current value with what was read, writes
with KEEPTTL only where they match, and journals the write in the same atomic
step. Scripts run atomically and survive a server restart because redis-py
reloads them on NOSCRIPT. Redis errors are mapped here, at the edge, to
``StoreUnreachable`` (transient) or ``SessionError``; their text never holds
record contents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from nahtlos.errors import SessionError, StoreUnreachable
from nahtlos.sessions.store import Cas, Expiring, Replacement

JOURNAL_TTL_SECONDS = 7 * 24 * 3600

_CAS = """
local journal = KEYS[1]
local out = {}
local wrote = false
for j = 2, #KEYS do
  local key = KEYS[j]
  local base = 1 + 3 * (j - 2)
  local kind = redis.call('TYPE', key).ok
  if kind == 'none' then
    out[j - 1] = 0
  elseif kind ~= 'string' or redis.sha1hex(redis.call('GET', key)) ~= ARGV[base + 1] then
    out[j - 1] = 2
  else
    redis.call('SET', key, ARGV[base + 2], 'KEEPTTL')
    redis.call('HSET', journal, key, ARGV[base + 1] .. ':' .. ARGV[base + 3])
    out[j - 1] = 1
    wrote = true
  end
end
if wrote then redis.call('EXPIRE', journal, ARGV[1]) end
return out
"""

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
        self.name = name or f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
        self._cas = client.register_script(_CAS)
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

    @contextmanager
    def _edge(self, action: str) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # includes BusyLoadingError
            raise StoreUnreachable(f"{action} failed: the store is not reachable ({type(exc).__name__})",
                                   subject=self.name, hint="check that Redis runs; retrying may help") from None
        except redis.RedisError as exc:
            raise SessionError(f"{action} failed: {type(exc).__name__}: {str(exc)[:160]}",
                               subject=self.name) from None

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

    def replace(self, items: Sequence[Replacement], *, journal: str) -> list[Cas]:
        if not items:
            return []
        args: list[bytes | str | int] = [JOURNAL_TTL_SECONDS]
        for item in items:
            args += [item.expected, item.value, item.value_sha1]
        with self._edge("writing migrated sessions"):
            codes = self._cas(keys=[journal, *(item.key for item in items)], args=args)
        return [Cas(int(code)) for code in codes]

    def journal(self, journal: str, keys: Sequence[str]) -> list[tuple[str, str] | None]:
        if not keys:
            return []
        with self._edge("reading the migration journal"):
            entries = self._client.hmget(journal, list(keys))
        return [tuple(e.decode().split(":", 1)) if e else None for e in entries]  # type: ignore[misc]

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
