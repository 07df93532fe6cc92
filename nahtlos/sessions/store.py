"""The session store protocol: the few operations the handoff needs from a store.

A store holds one serialized JSON object per key. The handoff never deletes a
key and never writes one it has not just read: every write is
conditional on the key still holding the bytes it read, keeps the key's TTL,
and records in a journal which content it replaced (``verify`` uses that to
tell a migration's write from a user's). Backends map their own errors to
``StoreUnreachable`` (transient) or ``SessionError``; nothing they raise
carries record contents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from enum import IntEnum
from typing import NamedTuple, Protocol, runtime_checkable

# Server-side schema census codes (``SessionStore.schemas``); a value >= 0 is a schema version.
MISSING = -1  # the key does not exist (expired or deleted)
CORRUPT = -2  # not valid JSON
NO_SCHEMA = -3  # not an object, or no integer schema field
NOT_STRING = -4  # the key holds another Redis type (hash, list ...), not a JSON string


class Rewrite(NamedTuple):
    """Write ``value`` to ``key``, which must still hold the bytes the plan was given."""

    key: str
    value: bytes
    journal_entry: str  # "<fingerprint of the bytes read>:<fingerprint of value>"


# Given (key, raw value or None) for a batch, the rewrites to apply. A store may call it again
# on part of the batch after a conflict, with the values as they are then.
Plan = Callable[[list[tuple[str, bytes | None]]], list[Rewrite]]


class Cas(IntEnum):
    GONE = 0  # the key disappeared (TTL or logout) since it was read; nothing written
    WRITTEN = 1
    CHANGED = 2  # someone wrote the key since it was read; nothing written, read again


class Expiring(NamedTuple):
    raw: bytes | None
    ttl_ms: int | None  # remaining time to live; None = no expiry


class SessionWriter(Protocol):
    """Conditional rewrites over one connection. ``rewrite`` does a batch at once; ``begin``,
    ``write`` and ``finish`` do it in three steps that each send a request and return, so one
    thread can keep several writers busy while the store works."""

    def rewrite(self, keys: Sequence[str], plan: Plan, *, journal: str) -> dict[str, Cas]:
        """Read ``keys``, ask ``plan`` for rewrites, and apply them only where the key has not
        changed since it was read, keeping its TTL and never re-creating a vanished key; record
        each rewrite's ``journal_entry`` under its key in the hash ``journal``. Returns the
        outcome for every key ``plan`` rewrote."""

    def begin(self, keys: Sequence[str]) -> None:
        """Step 1 of ``rewrite``: ask for the values of ``keys``."""

    def write(self, plan: Plan, *, journal: str) -> None:
        """Step 2: take the values, ask ``plan``, send the conditional writes."""

    def finish(self) -> dict[str, Cas]:
        """Step 3: wait for the writes; the same outcomes as ``rewrite``."""

    def touched(self) -> set[str] | None:
        """The keys that clients other than this writer modified, or that expired, since the last
        call (or since it was opened), including every change the store made before this call;
        None when the store cannot tell."""

    def close(self) -> None: ...


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

    def writer(self, *, track_prefix: str | None = None) -> "SessionWriter":
        """A writer with its own connection; with ``track_prefix`` it can also tell which keys
        under that prefix others modified (``SessionWriter.touched``). Close it after use."""

    def journal(self, journal: str, keys: Sequence[str]) -> list[tuple[str, str] | None]:
        """The (replaced, written) fingerprints recorded for each key, or None."""

    def clear_journal(self, journal: str) -> None: ...

    def members(self, set_key: str, keys: Sequence[str]) -> list[bool]:
        """Whether each of ``keys`` is in the set ``set_key`` (sessions the application ended)."""

    def get_int(self, key: str) -> int | None:
        """An integer control value, or None when the key is absent."""

    def set_int(self, key: str, value: int | None) -> None:
        """Set an integer control value without expiry; None deletes the key."""

    def ping(self) -> None:
        """Raise ``StoreUnreachable`` unless the store answers."""
