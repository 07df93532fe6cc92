"""Bulk migration of the stored sessions, concurrent with live traffic.

Each pass walks every session key, reads a batch (one MGET), converts the
records outside the accepted formats with the application's migration, and
writes them back with one compare-and-set script per batch (``Replacement``:
written only where the key still holds the bytes that were read, TTL kept,
journalled). A user who writes in between wins: the record is read again and
migrated from the user's version. Passes repeat until one finds nothing left
to migrate, because versions may still write an older format during the
compat poll interval. When the store goes away (restart, failover) the
migration waits for it and resumes with a new pass; the store's own content
is the only state, so a re-run after a crash is safe too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from nahtlos.errors import StoreUnreachable
from nahtlos.sessions import records
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.formats import set_write_format
from nahtlos.sessions.models import MigrationReport, ProblemTally
from nahtlos.sessions.providers import MigrationProvider, Record, convert
from nahtlos.sessions.records import Unusable
from nahtlos.sessions.scanning import key_batches
from nahtlos.sessions.store import MISSING, Cas, Replacement, SessionStore

log = logging.getLogger("nahtlos.sessions")

CAS_RETRIES = 3


class _Pass:
    """Counters of one migration run (all passes)."""

    def __init__(self, tally: ProblemTally) -> None:
        self.tally = tally
        self.migrated = self.conflicts = self.gone = self.attempted = 0


def migrate_all(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider, to_schema: int,
                accept: Collection[int] | None = None, batch: int = 200, max_passes: int = 20,
                reconnect_deadline: float = 60.0, max_offenders: int = 100,
                sleep: Callable[[float], None] = time.sleep) -> MigrationReport:
    """Migrate every live session outside ``accept`` (default: ``{to_schema}``) to ``to_schema``.

    Returns when a pass finds nothing left to migrate, after ``max_passes``, or
    raises ``StoreUnreachable`` when the store stays away longer than
    ``reconnect_deadline`` seconds. Records the migration refuses stay as they
    are and are reported by key and reason.
    """
    accepted = frozenset(accept if accept is not None else (to_schema,)) | {to_schema}
    started = time.monotonic()
    counts = _Pass(ProblemTally(key_prefix=config.key_prefix, max_offenders=max_offenders))
    passes = reconnects = 0
    while passes < max_passes:
        passes += 1
        counts.attempted = 0
        try:
            _run_pass(store, config, provider, to_schema, accepted, batch, counts, first=passes == 1)
        except StoreUnreachable:
            reconnects += 1
            log.warning("session store unreachable during migration pass %d; waiting to resume", passes)
            _await_store(store, deadline=reconnect_deadline, sleep=sleep)
            continue
        log.info("session migration pass %d: %d attempted, %d migrated so far", passes, counts.attempted,
                 counts.migrated)
        if counts.attempted == 0:
            break
    remaining = _remaining(store, config, accepted, batch)
    report = MigrationReport(to_schema=to_schema, accept=sorted(accepted), migrated=counts.migrated,
                             conflicts=counts.conflicts, gone=counts.gone, problems=counts.tally.result(),
                             remaining=remaining, passes=passes, reconnects=reconnects,
                             seconds=round(time.monotonic() - started, 3))
    (log.info if report.complete else log.warning)("%s", report.summary())
    return report


def restore_for_rollback(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider,
                         write_format: int | None, readable: Collection[int], to_schema: int,
                         settle_seconds: float = 2.5, batch: int = 200,
                         reconnect_deadline: float = 60.0) -> MigrationReport:
    """Make the store readable by the old version again before users are moved back.

    Sets the write format back (``write_format``, None = every version's
    default), then down-migrates to ``to_schema`` every record outside
    ``readable`` (the old version's ``reads``). Before promotion this finds
    nothing to do, because the common format is one the old version reads.
    """
    set_write_format(store=store, config=config, schema=write_format, settle_seconds=settle_seconds)
    return migrate_all(store=store, config=config, provider=provider, to_schema=to_schema,
                       accept=readable, batch=batch, reconnect_deadline=reconnect_deadline)


def _run_pass(store: SessionStore, config: SessionsConfig, provider: MigrationProvider, to_schema: int,
              accepted: frozenset[int], batch: int, counts: _Pass, *, first: bool) -> None:
    for keys in key_batches(store, config, batch=batch):
        keys = [key for key in keys if key not in counts.tally]
        if not first:  # later passes expect almost nothing: ask the store which keys need work
            codes = store.schemas(keys, field=config.schema_field)
            keys = [key for key, code in zip(keys, codes) if code not in accepted and code != MISSING]
        for _ in range(CAS_RETRIES):
            keys = _migrate_batch(store, config, provider, to_schema, accepted, keys, counts)
            if not keys:
                break
            counts.conflicts += len(keys)


def _migrate_batch(store: SessionStore, config: SessionsConfig, provider: MigrationProvider, to_schema: int,
                   accepted: frozenset[int], keys: list[str], counts: _Pass) -> list[str]:
    """Migrate ``keys``; return the keys a concurrent write got to first."""
    todo: list[tuple[str, bytes]] = []
    parsed: list[Record] = []
    for key, raw in zip(keys, store.read(keys)):
        if raw is None:
            continue
        try:
            record, schema = records.parse(raw, schema_field=config.schema_field)
        except Unusable as problem:
            _refuse(counts, config, key, problem)
            continue
        if schema not in accepted:
            todo.append((key, raw))
            parsed.append(record)
    counts.attempted += len(todo)
    replacements = []
    for (key, raw), result in zip(todo, convert(provider, parsed, to_schema, schema_field=config.schema_field)):
        try:
            if isinstance(result, Unusable):
                raise result
            value = records.encode(result)
        except Unusable as problem:
            _refuse(counts, config, key, problem)
            continue
        replacements.append(Replacement(key, records.sha1(raw), value, records.sha1(value)))
    outcomes = store.replace(replacements, journal=config.journal_key)
    counts.migrated += outcomes.count(Cas.WRITTEN)
    counts.gone += outcomes.count(Cas.GONE)
    return [r.key for r, outcome in zip(replacements, outcomes) if outcome is Cas.CHANGED]


def _refuse(counts: _Pass, config: SessionsConfig, key: str, problem: Unusable) -> None:
    counts.tally.add(key, problem)
    log.warning("session %s cannot be migrated: %s", records.mask_key(key, config.key_prefix), problem.label)


def _remaining(store: SessionStore, config: SessionsConfig, accepted: frozenset[int], batch: int) -> int:
    remaining = 0
    for keys in key_batches(store, config, batch=batch):
        remaining += sum(1 for code in store.schemas(keys, field=config.schema_field)
                         if code not in accepted and code != MISSING)
    return remaining


def _await_store(store: SessionStore, *, deadline: float, sleep: Callable[[float], None]) -> None:
    give_up = time.monotonic() + deadline
    delay = 0.1
    while True:
        try:
            store.ping()
            return
        except StoreUnreachable:
            if time.monotonic() >= give_up:
                raise
            sleep(delay)
            delay = min(delay * 2, 1.0)
