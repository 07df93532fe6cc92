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
import queue
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
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
                accept: Collection[int] | None = None, batch: int = 200, workers: int = 2,
                max_passes: int = 20, reconnect_deadline: float = 60.0, max_offenders: int = 100,
                sleep: Callable[[float], None] = time.sleep) -> MigrationReport:
    """Migrate every live session outside ``accept`` (default: ``{to_schema}``) to ``to_schema``.

    Returns when a pass finds nothing left to migrate, after ``max_passes``, or
    raises ``StoreUnreachable`` when the store stays away longer than
    ``reconnect_deadline`` seconds. Records the migration refuses stay as they
    are and are reported by key and reason. ``workers`` batches are in flight
    at once, so the application's conversion overlaps the store's round trips
    (the provider must tolerate calls from several threads).
    """
    accepted = frozenset(accept if accept is not None else (to_schema,)) | {to_schema}
    job = _Job(store, config, provider, to_schema, accepted, written={})
    started = time.monotonic()
    total = _Counts()
    tally = ProblemTally(key_prefix=config.key_prefix, max_offenders=max_offenders)
    writers = _Writers(store, track_prefix=config.key_prefix, count=max(1, workers))
    recheck: set[str] | None = None  # the keys the next pass must read; None: every key
    passes = reconnects = 0
    clean = False
    try:
        while passes < max_passes and not clean:
            passes += 1
            this_pass = _Counts()
            try:
                writers.open()
                _run_pass(job, writers, _batches(job, recheck, batch), workers=workers, skip=tally, into=this_pass)
                recheck = writers.touched_by_others(this_pass.owner)
            except StoreUnreachable:
                reconnects += 1
                log.warning("session store unreachable during migration pass %d; waiting to resume", passes)
                writers.close()  # their tracking has a gap now: the next pass reads every key
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
        writers.close()
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
                         settle_seconds: float = 2.5, batch: int = 200, workers: int = 2,
                         reconnect_deadline: float = 60.0) -> MigrationReport:
    """Make the store readable by the old version again before users are moved back.

    Sets the write format back (``write_format``, None = every version's
    default), then down-migrates to ``to_schema`` every record outside
    ``readable`` (the old version's ``reads``). Before promotion this finds
    nothing to do, because the common format is one the old version reads.
    """
    set_write_format(store=store, config=config, schema=write_format, settle_seconds=settle_seconds)
    return migrate_all(store=store, config=config, provider=provider, to_schema=to_schema,
                       accept=readable, batch=batch, workers=workers,
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
    """One store writer per worker thread, each told by the store which keys others modify."""

    def __init__(self, store: SessionStore, *, track_prefix: str, count: int) -> None:
        self._store, self._prefix, self._count = store, track_prefix, count
        self._all: list[SessionWriter] = []
        self._free: queue.SimpleQueue[tuple[int, SessionWriter]] = queue.SimpleQueue()

    def open(self) -> None:
        while len(self._all) < self._count:
            writer = self._store.writer(track_prefix=self._prefix)
            self._free.put((len(self._all), writer))
            self._all.append(writer)

    @contextmanager
    def lend(self) -> Iterator[tuple[int, SessionWriter]]:
        lent = self._free.get()  # never waits: there are as many writers as threads
        try:
            yield lent
        finally:
            self._free.put(lent)

    def touched_by_others(self, owner: dict[str, int]) -> set[str] | None:
        """Keys modified by anyone but this migration since the last call; None when unknown.
        Writer i hears about writer j's writes too (j is another client to it): a key counts
        only when heard by the writer that wrote it, which hears nobody else's writes but users'."""
        heard = [writer.touched() for writer in self._all]
        if any(keys is None for keys in heard):
            return None
        return {key for i, keys in enumerate(heard) if keys for key in keys if owner.get(key, i) == i}

    def close(self) -> None:
        for writer in self._all:
            writer.close()
        self._all, self._free = [], queue.SimpleQueue()


def _batches(job: _Job, keys: set[str] | None, batch: int) -> Iterable[list[str]]:
    if keys is None:
        return key_batches(job.store, job.config, batch=batch)
    ordered = sorted(keys)
    return (ordered[start:start + batch] for start in range(0, len(ordered), batch))


def _run_pass(job: _Job, writers: _Writers, batches: Iterable[list[str]], *, workers: int, skip: ProblemTally,
              into: _Counts) -> None:
    """One walk over ``batches`` with up to ``workers`` batches in flight; adds to ``into``."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="nahtlos-migrate") as pool:
        in_flight: deque[Future[_Counts]] = deque()
        try:
            for keys in batches:
                in_flight.append(pool.submit(_migrate_keys, job, writers, [k for k in keys if k not in skip]))
                while len(in_flight) > workers:
                    into.add_all(in_flight.popleft().result())
            while in_flight:
                into.add_all(in_flight.popleft().result())
        finally:
            for future in in_flight:
                future.cancel()


def _migrate_keys(job: _Job, writers: _Writers, keys: list[str]) -> _Counts:
    counts = _Counts()
    batch = _Batch(job)
    if job.written:  # a confirming pass: almost every key holds what we wrote; look before locking
        keys = [key for key, _, _ in batch.select(list(zip(keys, job.store.read(keys))))]
    with writers.lend() as (index, writer):
        for _ in range(CAS_RETRIES):
            if not keys:
                break
            outcomes = writer.rewrite(keys, batch.plan, journal=job.config.journal_key)
            for key, outcome in outcomes.items():
                if outcome is Cas.WRITTEN:
                    counts.migrated += 1
                    counts.written[key] = batch.planned[key]
                    counts.owner[key] = index
                elif outcome is Cas.GONE:
                    counts.gone += 1
            keys = [key for key, outcome in outcomes.items() if outcome is Cas.CHANGED]
    counts.conflicts = batch.rereads
    counts.attempted = len(batch.attempted)
    counts.problems = list(batch.problems.items())
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
