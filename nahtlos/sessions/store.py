"""The session store protocol: the few operations the handoff needs from a store.

A store holds one serialized JSON object per key. The handoff never deletes a
key and never writes one it has not just read: every write is a
compare-and-set against the SHA-1 of the bytes it read, keeps the key's TTL,
and records in a journal which content it replaced (``verify`` uses that to
tell a migration's write from a user's). Backends map their own errors to
``StoreUnreachable`` (transient) or ``SessionError``; nothing they raise
carries record contents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import IntEnum
from typing import NamedTuple, Protocol, runtime_checkable

# Server-side schema census codes (``SessionStore.schemas``); a value >= 0 is a schema version.
MISSING = -1  # the key does not exist (expired or deleted)
CORRUPT = -2  # not valid JSON
NO_SCHEMA = -3  # not an object, or no integer schema field
NOT_STRING = -4  # the key holds another Redis type (hash, list ...), not a JSON string


class Replacement(NamedTuple):
    """Write ``value`` to ``key`` if the key still holds the bytes whose SHA-1 is ``expected``."""

    key: str
    expected: str  # sha1 hex of the bytes read
    value: bytes
    value_sha1: str


class Cas(IntEnum):
    GONE = 0  # the key disappeared (TTL or logout) since it was read; nothing written
    WRITTEN = 1
    CHANGED = 2  # someone wrote the key since it was read; nothing written, read again


class Expiring(NamedTuple):
    raw: bytes | None
    ttl_ms: int | None  # remaining time to live; None = no expiry


@runtime_checkable
class SessionStore(Protocol):
    def scan(self, *, pattern: str, batch: int) -> Iterator[list[str]]:
        """Every key matching ``pattern``, in batches (a key may be returned more than once)."""

    def read(self, keys: Sequence[str]) -> list[bytes | None]:
        """The raw values of ``keys`` in order; None for a missing key."""

    def read_with_expiry(self, keys: Sequence[str]) -> list[Expiring]:
        """The raw values and remaining TTLs of ``keys`` in order."""

    def schemas(self, keys: Sequence[str], *, field: str) -> list[int]:
        """The schema version of each key computed inside the store (contents never leave
        it); one of the negative codes above when there is none."""

    def replace(self, items: Sequence[Replacement], *, journal: str) -> list[Cas]:
        """Compare-and-set each item atomically, keeping its TTL; record
        ``key -> "<expected>:<value_sha1>"`` in the hash ``journal`` for each write."""

    def journal(self, journal: str, keys: Sequence[str]) -> list[tuple[str, str] | None]:
        """The (replaced sha1, written sha1) recorded for each key, or None."""

    def clear_journal(self, journal: str) -> None: ...

    def get_int(self, key: str) -> int | None:
        """An integer control value, or None when the key is absent."""

    def set_int(self, key: str, value: int | None) -> None:
        """Set an integer control value without expiry; None deletes the key."""

    def ping(self) -> None:
        """Raise ``StoreUnreachable`` unless the store answers."""
