"""Redis errors mapped to nahtlos' error tree, at the one edge every Redis call passes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from nahtlos.errors import SessionError, StoreUnreachable


@contextmanager
def redis_edge(action: str, store: str) -> Iterator[None]:
    """``StoreUnreachable`` (transient) or ``SessionError`` naming ``store``; never record contents,
    because Redis' own error text is cut short and names commands, not values."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:  # includes BusyLoadingError
        raise StoreUnreachable(f"{action} failed: the store is not reachable ({type(exc).__name__})",
                               subject=store, hint="check that Redis runs; retrying may help") from None
    except redis.RedisError as exc:
        raise SessionError(f"{action} failed: {type(exc).__name__}: {str(exc)[:160]}", subject=store) from None
