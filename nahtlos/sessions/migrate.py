"""Bulk migration of the stored sessions, concurrent with live traffic.

The first pass walks every session key, reads a batch, converts the records
outside the accepted formats with the application's migration, and writes
them back through a ``SessionWriter``: written only where the key still holds
the bytes that were read (compare-and-set per record), TTL kept, journalled.
A user who writes in between wins: the record is read again and migrated from
the user's version. Passes repeat until one finds nothing left to migrate,
because versions may still write an older format during the compat poll
interval. A confirming pass reads only the keys others modified meanwhile when
the store can say which (Redis' client tracking), every key otherwise. When
the store goes away (restart, failover) the migration waits for it and resumes
with a full pass; the store's own content is the only state, so a re-run after
a crash is safe too.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from nahtlos.errors import StoreUnreachable
from nahtlos.sessions import records
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.formats import set_write_format
from nahtlos.sessions.models import MigrationReport, ProblemTally
from nahtlos.sessions.providers import MigrationProvider, Record, convert
from nahtlos.sessions.records import Unusable
from nahtlos.sessions.scanning import key_batches
from nahtlos.sessions.store import MISSING, Cas, Rewrite, SessionStore, SessionWriter

log = logging.getLogger("nahtlos.sessions")

CAS_RETRIES = 3


@dataclass
class _Counts:
    migrated: int = 0
    conflicts: int = 0  # records read again because a user wrote in their batch meanwhile
    gone: int = 0
    attempted: int = 0  # records found outside the accepted formats
    problems: list[tuple[str, Unusable]] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)  # key -> fingerprint of the bytes we wrote
    owner: dict[str, int] = field(default_factory=dict)  # key -> the writer that wrote it

    def add(self, other: "_Counts") -> None:
        """Numbers only; problems are collected by the caller."""
        self.migrated += other.migrated
        self.conflicts += other.conflicts
        self.gone += other.gone
        self.attempted += other.attempted

    def add_all(self, other: "_Counts") -> None:
        self.add(other)
        self.problems += other.problems
        self.written.update(other.written)
        self.owner.update(other.owner)


def migrate_all(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider, to_schema: int,
                accept: Collection[int] | None = None, batch: int = 200, writers: int = 3,
                max_passes: int = 20, reconnect_deadline: float = 60.0, max_offenders: int = 100,
                sleep: Callable[[float], None] = time.sleep) -> MigrationReport:
    """Migrate every live session outside ``accept`` (default: ``{to_schema}``) to ``to_schema``.

    Returns when a pass finds nothing left to migrate, after ``max_passes``, or
    raises ``StoreUnreachable`` when the store stays away longer than
    ``reconnect_deadline`` seconds. Records the migration refuses stay as they
    are and are reported by key and reason. Up to ``writers`` batches are in
    flight at once, each on its own connection, so that one thread converts a
    batch while the store reads the next and writes the one before (the default
    3 keeps all three busy).
    """
    accepted = frozenset(accept if accept is not None else (to_schema,)) | {to_schema}
    job = _Job(store, config, provider, to_schema, accepted, written={})
    started = time.monotonic()
    total = _Counts()
    tally = ProblemTally(key_prefix=config.key_prefix, max_offenders=max_offenders)
    pool = _Writers(store, track_prefix=config.key_prefix, count=max(1, writers))
    recheck: set[str] | None = None  # the keys the next pass must read; None: every key
    passes = reconnects = 0
    clean = False
    try:
        while passes < max_passes and not clean:
            passes += 1
            this_pass = _Counts()
            try:
                pool.open()
                _run_pass(job, pool, _batches(job, recheck, batch), skip=tally, into=this_pass)
                recheck = pool.touched_by_others(this_pass.owner)
            except StoreUnreachable:
                reconnects += 1
                log.warning("session store unreachable during migration pass %d; waiting to resume", passes)
                pool.close()  # their tracking has a gap now: the next pass reads every key
                recheck = None
                _await_store(store, deadline=reconnect_deadline, sleep=sleep)
                continue
            finally:
                total.add(this_pass)
                job.written.update(this_pass.written)
                for key, problem in this_pass.problems:
                    tally.add(key, problem)
                    log.warning("session %s cannot be migrated: %s", records.mask_key(key, config.key_prefix),
                                problem.label)
            log.info("session migration pass %d: %d attempted, %d migrated so far, %s to confirm", passes,
                     this_pass.attempted, total.migrated, "every key" if recheck is None else len(recheck))
            clean = this_pass.attempted == 0
    finally:
        pool.close()
    # After a clean pass only the refused records remain outside the accepted formats.
    remaining = len(tally) if clean else _remaining(job, batch)
    report = MigrationReport(to_schema=to_schema, accept=sorted(accepted), migrated=total.migrated,
                             conflicts=total.conflicts, gone=total.gone, problems=tally.result(),
                             remaining=remaining, passes=passes, reconnects=reconnects,
                             seconds=round(time.monotonic() - started, 3))
    (log.info if report.complete else log.warning)("%s", report.summary())
    return report


def restore_for_rollback(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider,
                         write_format: int | None, readable: Collection[int], to_schema: int,
                         settle_seconds: float = 2.5, batch: int = 200, writers: int = 3,
                         reconnect_deadline: float = 60.0) -> MigrationReport:
    """Make the store readable by the old version again before users are moved back.

    Sets the write format back (``write_format``, None = every version's
    default), then down-migrates to ``to_schema`` every record outside
    ``readable`` (the old version's ``reads``). Before promotion this finds
    nothing to do, because the common format is one the old version reads.
    """
    set_write_format(store=store, config=config, schema=write_format, settle_seconds=settle_seconds)
    return migrate_all(store=store, config=config, provider=provider, to_schema=to_schema,
                       accept=readable, batch=batch, writers=writers,
                       reconnect_deadline=reconnect_deadline)


@dataclass(frozen=True)
class _Job:
    store: SessionStore
    config: SessionsConfig
    provider: MigrationProvider
    to_schema: int
    accepted: frozenset[int]
    # What earlier passes wrote: a key still holding those bytes needs no parsing to be skipped.
    written: dict[str, str]


class _Writers:
    """The migration's store writers, each told by the store which keys others modify."""

    def __init__(self, store: SessionStore, *, track_prefix: str, count: int) -> None:
        self._store, self._prefix, self._count = store, track_prefix, count
        self.all: list[SessionWriter] = []

    def open(self) -> None:
        while len(self.all) < self._count:
            self.all.append(self._store.writer(track_prefix=self._prefix))

    def touched_by_others(self, owner: dict[str, int]) -> set[str] | None:
        """Keys modified by anyone but this migration since the last call; None when unknown.
        Writer i hears about writer j's writes too (j is another client to it): a key counts
        only when heard by the writer that wrote it, which hears nobody else's writes but users'."""
        heard = [writer.touched() for writer in self.all]
        if any(keys is None for keys in heard):
            return None
        return {key for i, keys in enumerate(heard) if keys for key in keys if owner.get(key, i) == i}

    def close(self) -> None:
        for writer in self.all:
            writer.close()
        self.all = []


def _batches(job: _Job, keys: set[str] | None, batch: int) -> Iterable[list[str]]:
    if keys is None:
        return key_batches(job.store, job.config, batch=batch)
    ordered = sorted(keys)
    return (ordered[start:start + batch] for start in range(0, len(ordered), batch))


@dataclass
class _InFlight:
    writer: int  # index into _Writers.all
    batch: "_Batch"


def _run_pass(job: _Job, writers: _Writers, batches: Iterable[list[str]], *, skip: ProblemTally,
              into: _Counts) -> None:
    """One walk over ``batches`` in one thread, keeping every writer busy: before reading a
    reply, it converts another batch, so Redis has prepared the reply by then (with three
    writers: one batch being converted, the next one's values on their way, the one before
    being written)."""
    free = list(range(len(writers.all)))
    begun: deque[_InFlight] = deque()  # values asked for
    written: deque[_InFlight] = deque()  # rewrites sent

    def write_oldest() -> None:
        flight = begun.popleft()
        writers.all[flight.writer].write(flight.batch.plan, journal=job.config.journal_key)
        written.append(flight)

    def finish_oldest() -> None:
        flight = written.popleft()
        into.add_all(_finish(job, writers.all[flight.writer], flight))
        free.append(flight.writer)

    for keys in batches:
        keys = [key for key in keys if key not in skip]
        batch = _Batch(job)
        if job.written:  # a confirming pass: almost every key holds what we wrote; look before locking
            keys = [key for key, _, _ in batch.select(list(zip(keys, job.store.read(keys))))]
        if not keys:
            into.add_all(batch.counts())
            continue
        if not free:
            if not written:
                write_oldest()
            finish_oldest()
        flight = _InFlight(free.pop(0), batch)
        writers.all[flight.writer].begin(keys)
        begun.append(flight)
        if len(begun) > 1 or not free:
            write_oldest()
    while begun:
        write_oldest()
    while written:
        finish_oldest()


def _finish(job: _Job, writer: SessionWriter, flight: _InFlight) -> _Counts:
    """The outcomes of one batch; keys users wrote meanwhile are read and converted again."""
    outcomes = writer.finish()
    final: dict[str, Cas] = {}
    for attempt in range(CAS_RETRIES):
        final.update(outcomes)
        changed = [key for key, outcome in outcomes.items() if outcome is Cas.CHANGED]
        if not changed or attempt == CAS_RETRIES - 1:
            break
        outcomes = writer.rewrite(changed, flight.batch.plan, journal=job.config.journal_key)
    counts = flight.batch.counts()  # after the retries: they convert, refuse and read again too
    for key, outcome in final.items():
        if outcome is Cas.WRITTEN:
            counts.migrated += 1
            counts.written[key] = flight.batch.planned[key]
            counts.owner[key] = flight.writer
        elif outcome is Cas.GONE:
            counts.gone += 1
    return counts


class _Batch:
    """The conversion of one batch; the store may run ``plan`` again on keys users wrote meanwhile."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.attempted: set[str] = set()
        self.problems: dict[str, Unusable] = {}
        self.planned: dict[str, str] = {}  # key -> fingerprint of the bytes planned for it
        self.seen: set[str] = set()
        self.rereads = 0  # keys read again because someone wrote in their batch meanwhile

    def counts(self) -> _Counts:
        """What this batch attempted, refused and read again so far (no outcomes)."""
        return _Counts(conflicts=self.rereads, attempted=len(self.attempted), problems=list(self.problems.items()))

    def select(self, pairs: list[tuple[str, bytes | None]]) -> list[tuple[str, str, Record]]:
        """(key, fingerprint of its bytes, record) of the sessions that need migrating."""
        job = self.job
        selected = []
        for key, raw in pairs:
            if raw is None:
                continue
            raw_print = records.fingerprint(raw)
            if job.written.get(key) == raw_print:  # still what an earlier pass wrote
                continue
            try:
                record, schema = records.parse(raw, schema_field=job.config.schema_field)
            except Unusable as problem:
                self.problems[key] = problem
                continue
            if schema not in job.accepted:
                selected.append((key, raw_print, record))
        self.attempted.update(key for key, _, _ in selected)
        return selected

    def plan(self, pairs: list[tuple[str, bytes | None]]) -> list[Rewrite]:
        job = self.job
        self.rereads += sum(1 for key, _ in pairs if key in self.seen)
        self.seen.update(key for key, _ in pairs)
        selected = self.select(pairs)
        converted = convert(job.provider, [record for _, _, record in selected], job.to_schema,
                            schema_field=job.config.schema_field)
        rewrites = []
        for (key, raw_print, _), result in zip(selected, converted):
            try:
                if isinstance(result, Unusable):
                    raise result
                value = records.encode(result)
            except Unusable as problem:
                self.problems[key] = problem
                continue
            self.planned[key] = value_print = records.fingerprint(value)
            rewrites.append(Rewrite(key, value, f"{raw_print}:{value_print}"))
        return rewrites


def _remaining(job: _Job, batch: int) -> int:
    remaining = 0
    for keys in key_batches(job.store, job.config, batch=batch):
        remaining += sum(1 for code in job.store.schemas(keys, field=job.config.schema_field)
                         if code not in job.accepted and code != MISSING)
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
