"""Which format the store holds and which format every version must write now.

Compat writing (shared contract 3): every application version reads the
integer in ``format_key`` at least every ``FORMAT_POLL_SECONDS`` and writes
that format if it can; an absent key means its own default. nahtlos sets the
key to the plan's common format before a canary gets traffic and to the new
format after promotion; ``set_write_format`` waits one poll interval so that,
when it returns, no version writes another format any more.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable

from nahtlos.errors import HandoffBlocked
from nahtlos.sessions import records
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.models import FormatChange, SessionCensus
from nahtlos.sessions.scanning import key_batches
from nahtlos.sessions.store import CORRUPT, MISSING, NO_SCHEMA, NOT_STRING, SessionStore

log = logging.getLogger("nahtlos.sessions")

FORMAT_POLL_SECONDS = 2.0
_PROBLEM_NAMES = {CORRUPT: records.CORRUPT_JSON, NO_SCHEMA: records.NO_SCHEMA, NOT_STRING: records.NOT_STRING}


def read_write_format(*, store: SessionStore, config: SessionsConfig) -> int | None:
    """The format every version is told to write; None = each writes its default."""
    return store.get_int(config.format_key)


def set_write_format(*, store: SessionStore, config: SessionsConfig, schema: int | None,
                     settle_seconds: float = FORMAT_POLL_SECONDS + 0.5,
                     sleep: Callable[[float], None] = time.sleep) -> FormatChange:
    """Tell every version to write ``schema`` (None: their own default). Idempotent; waits
    ``settle_seconds`` only when the value changed."""
    previous = store.get_int(config.format_key)
    if previous == schema:
        return FormatChange(format_key=config.format_key, previous=previous, current=schema, settled_seconds=0.0)
    store.set_int(config.format_key, schema)
    log.info("session write format %s: %s -> %s", config.format_key, previous, schema)
    if settle_seconds > 0:
        sleep(settle_seconds)
    return FormatChange(format_key=config.format_key, previous=previous, current=schema,
                        settled_seconds=settle_seconds)


def census(*, store: SessionStore, config: SessionsConfig, batch: int = 200) -> SessionCensus:
    """Live sessions by stored schema, counted inside the store (no contents are transferred).

    The drain step uses it to count sessions still in a format the next version
    does not read; ``outside(formats)`` gives that number.
    """
    by_schema: Counter[int] = Counter()
    problems: Counter[str] = Counter()
    for keys in key_batches(store, config, batch=batch):
        for code in store.schemas(keys, field=config.schema_field):
            if code >= 0:
                by_schema[code] += 1
            elif code != MISSING:
                problems[_PROBLEM_NAMES[code]] += 1
    return SessionCensus(total=sum(by_schema.values()) + sum(problems.values()),
                         by_schema=dict(by_schema), by_problem=dict(problems))


def count_live(*, store: SessionStore, config: SessionsConfig, session_ids: Iterable[str]) -> int:
    """How many of ``session_ids`` (e.g. the sessions a router still pins to the old version)
    still exist in the store: a pin whose session expired there no longer holds the drain up."""
    keys = [config.key_for(session_id) for session_id in set(session_ids)]
    return sum(1 for start in range(0, len(keys), 500)
               for code in store.schemas(keys[start:start + 500], field=config.schema_field) if code != MISSING)


def assert_readable(*, store: SessionStore, config: SessionsConfig, readable: Collection[int]) -> SessionCensus:
    """Rollback safety: raise ``HandoffBlocked`` unless every live session is in one of ``readable``
    (the formats the old version reads)."""
    counted = census(store=store, config=config)
    outside = counted.outside(readable)
    if outside:
        raise HandoffBlocked(f"{outside} of {counted.total} sessions are in a format outside {sorted(readable)} "
                             f"(by schema: {counted.by_schema}, unusable: {counted.by_problem})",
                             subject="session store", hint="run restore_for_rollback before moving users back")
    return counted
