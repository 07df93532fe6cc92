"""Proof that a migration window lost no session and changed no user data.

``snapshot`` (before the migration) records, per live session, the fingerprint of its
bytes, a digest of its user fields after an in-memory migration to the target
format, and when its TTL runs out; it also empties the migration journal.
``verify`` (after) compares every live session with that snapshot:

- same user-data digest: unchanged;
- different digest: the migration's compare-and-set journal tells who wrote.
  If the key's current bytes are exactly what the migration wrote, and the
  migration replaced exactly the snapshotted bytes, the migration changed the
  user data (a failure). Otherwise someone else wrote the key after the
  snapshot: the user's own write;
- gone after its TTL ran out: expired; gone before: lost. The handoff never
  deletes a key, so a lost session means the store lost it or the application
  deleted it (e.g. a logout), which the store cannot tell apart: a verification
  during live traffic may need the application's logout count to explain it.

Digests and hashes stay in memory; the report holds counts and keys only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from nahtlos.sessions import records
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.models import ProblemTally, VerifyReport
from nahtlos.sessions.providers import MigrationProvider, convert
from nahtlos.sessions.records import Unusable
from nahtlos.sessions.scanning import key_batches
from nahtlos.sessions.store import SessionStore

log = logging.getLogger("nahtlos.sessions")

EXPIRY_SLACK_SECONDS = 1.0


class SnapshotEntry(NamedTuple):
    raw_print: str
    digest: str
    expires_at: float | None  # wall-clock time the TTL runs out, None = no expiry


@dataclass(frozen=True, repr=False)
class SessionSnapshot:
    """What ``verify`` compares with. Holds hashes, never contents."""

    to_schema: int
    taken_at: float
    entries: dict[str, SnapshotEntry] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)  # key -> reason; not compared

    def __len__(self) -> int:
        return len(self.entries) + len(self.unusable)

    def __repr__(self) -> str:
        return (f"SessionSnapshot(to_schema={self.to_schema}, sessions={len(self.entries)}, "
                f"unusable={len(self.unusable)})")


def snapshot(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider, to_schema: int,
             batch: int = 500) -> SessionSnapshot:
    """Take the 'before' picture of a migration to ``to_schema`` and start a fresh journal."""
    store.clear_journal(config.journal_key)
    taken = SessionSnapshot(to_schema=to_schema, taken_at=time.time())
    for keys in key_batches(store, config, batch=batch):
        now = time.time()
        pending: list[tuple[str, str, float | None]] = []
        parsed = []
        for key, (raw, ttl_ms) in zip(keys, store.read_with_expiry(keys)):
            if raw is None:
                continue
            try:
                record, _ = records.parse(raw, schema_field=config.schema_field)
            except Unusable as problem:
                taken.unusable[key] = problem.label
                continue
            pending.append((key, records.fingerprint(raw), None if ttl_ms is None else now + ttl_ms / 1000))
            parsed.append(record)
        for (key, raw_print, expires_at), result in zip(
                pending, convert(provider, parsed, to_schema, schema_field=config.schema_field)):
            if isinstance(result, Unusable):
                taken.unusable[key] = result.label
            else:
                taken.entries[key] = SnapshotEntry(raw_print, records.user_digest(result, config.user_fields),
                                                   expires_at)
    log.info("%r", taken)
    return taken


class _Comparison:
    def __init__(self, before: SessionSnapshot, config: SessionsConfig, max_offenders: int) -> None:
        self.before, self.config = before, config
        tally = lambda: ProblemTally(key_prefix=config.key_prefix, max_offenders=max_offenders)  # noqa: E731
        self.lost, self.changed, self.not_migrated, self.unreadable = tally(), tally(), tally(), tally()
        self.seen: set[str] = set()
        self.unchanged = self.user_writes = self.created = self.expired = self.ended = 0
        self.mismatched: list[tuple[str, str]] = []  # (key, fingerprint of the current bytes)

    def record(self, key: str, raw: bytes) -> None:
        self.seen.add(key)
        try:
            record, schema = records.parse(raw, schema_field=self.config.schema_field)
        except Unusable as problem:
            self.unreadable.add(key, problem)
            return
        if schema != self.before.to_schema:
            self.not_migrated.add(key, f"schema {schema}")
            return
        entry = self.before.entries.get(key)
        if entry is None:
            self.created += key not in self.before.unusable  # those were never compared
        elif records.user_digest(record, self.config.user_fields) == entry.digest:
            self.unchanged += 1
        else:
            self.mismatched.append((key, records.fingerprint(raw)))

    def explain_mismatches(self, store: SessionStore) -> None:
        for chunk in _chunks(self.mismatched):
            journal = store.journal(self.config.journal_key, [key for key, _ in chunk])
            for (key, current), written in zip(chunk, journal):
                if written == (self.before.entries[key].raw_print, current):
                    self.changed.add(key, "user data differs from the snapshot after the migration's write")
                else:
                    self.user_writes += 1

    def missing(self, store: SessionStore) -> None:
        """Sessions of the snapshot the scan did not see: read once more, then expired or lost."""
        absent = [key for key in self.before.entries if key not in self.seen]
        now = time.time()
        for chunk in _chunks(absent):
            ended = (store.members(self.config.ended_key, chunk) if self.config.ended_key
                     else [False] * len(chunk))
            for key, (raw, _), by_user in zip(chunk, store.read_with_expiry(chunk), ended):
                if raw is not None:
                    self.record(key, raw)
                    continue
                expires_at = self.before.entries[key].expires_at
                if by_user:
                    self.ended += 1
                elif expires_at is not None and expires_at <= now + EXPIRY_SLACK_SECONDS:
                    self.expired += 1
                else:
                    self.lost.add(key, "gone before its TTL ran out")


def _chunks(items: list, size: int = 500) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def verify(*, store: SessionStore, config: SessionsConfig, before: SessionSnapshot, batch: int = 500,
           max_offenders: int = 100) -> VerifyReport:
    """Compare the live sessions with ``before``; ``ok`` means nothing lost, nothing changed by the
    migration, everything in ``before.to_schema`` and readable."""
    started = time.monotonic()
    comparison = _Comparison(before, config, max_offenders)
    for keys in key_batches(store, config, batch=batch):
        for key, raw in zip(keys, store.read(keys)):
            if raw is not None:
                comparison.record(key, raw)
    comparison.missing(store)
    comparison.explain_mismatches(store)
    report = VerifyReport(
        to_schema=before.to_schema, before=len(before), after=len(comparison.seen),
        unchanged=comparison.unchanged, user_writes=comparison.user_writes, created=comparison.created,
        expired=comparison.expired, ended=comparison.ended, lost=comparison.lost.result(),
        changed_by_migration=comparison.changed.result(),
        not_migrated=comparison.not_migrated.result(), unreadable=comparison.unreadable.result(),
        seconds=round(time.monotonic() - started, 3))
    (log.info if report.ok else log.warning)("%s", report.summary())
    return report
