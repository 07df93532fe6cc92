"""Walking every live session of a store in batches, each key once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.store import NOT_STRING, SessionStore


def key_batches(store: SessionStore, config: SessionsConfig, *, batch: int) -> Iterator[list[str]]:
    """Every session key once (SCAN may repeat a key), in batches of about ``batch``."""
    seen: set[str] = set()
    pending: list[str] = []
    for keys in store.scan(pattern=config.key_pattern, batch=batch):
        for key in keys:
            if key not in seen:
                seen.add(key)
                pending.append(key)
        while len(pending) >= batch:
            yield pending[:batch]
            del pending[:batch]
    if pending:
        yield pending


def record_batches(store: SessionStore, config: SessionsConfig, *,
                   batch: int) -> Iterator[list[tuple[str, bytes | None]]]:
    """(key, raw value) for every session key; None when the key vanished or is not a string."""
    for keys in key_batches(store, config, batch=batch):
        yield list(zip(keys, store.read(keys)))


def not_strings(store: SessionStore, config: SessionsConfig, keys: Sequence[str]) -> list[str]:
    """The ``keys`` that exist but hold another Redis type than a string."""
    if not keys:
        return []
    codes = store.schemas(keys, field=config.schema_field)
    return [key for key, code in zip(keys, codes) if code == NOT_STRING]
