"""Preflight: before any traffic reaches a new version, prove it can read every live session.

Each live session is parsed, checked to be in a format the new version reads,
migrated in memory to the new version's format and validated by the
application's migration. Where the plan stores a down-cast format while old
and new run side by side, the record also makes the round trip new -> common
-> new and must come back with identical user data. Nothing is written. The
result holds counts by reason and the offending keys, never contents.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Collection

from nahtlos.sessions import records
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.models import PreflightReport, ProblemTally
from nahtlos.sessions.providers import MigrationProvider, Record, convert
from nahtlos.sessions.records import Unusable
from nahtlos.sessions.scanning import not_strings, record_batches
from nahtlos.sessions.store import SessionStore

log = logging.getLogger("nahtlos.sessions")


def preflight(*, store: SessionStore, config: SessionsConfig, provider: MigrationProvider, to_schema: int,
              readable: Collection[int] | None = None, round_trip_via: int | None = None,
              batch: int = 500, max_offenders: int = 100) -> PreflightReport:
    """Check every live session against the new version.

    ``to_schema``: the format the new version writes (the session spec's ``writes``).
    ``readable``: the formats it reads (``reads``); a stored record in any other
    format is ``unknown_schema``. None skips that check.
    ``round_trip_via``: the common format written while old and new run side by
    side, when it differs from ``to_schema`` (a down-cast exists); None skips it.
    """
    started = time.monotonic()
    tally = ProblemTally(key_prefix=config.key_prefix, max_offenders=max_offenders)
    by_schema: Counter[int] = Counter()
    checked = 0
    via = round_trip_via if round_trip_via != to_schema else None
    for pairs in record_batches(store, config, batch=batch):
        for key in not_strings(store, config, [key for key, raw in pairs if raw is None]):
            checked += 1
            tally.add(key, records.NOT_STRING)
        keys, parsed = [], []
        for key, raw in pairs:
            if raw is None:
                continue  # expired since the scan
            checked += 1
            try:
                record, schema = records.parse(raw, schema_field=config.schema_field)
            except Unusable as problem:
                tally.add(key, problem)
                continue
            by_schema[schema] += 1
            if readable is not None and schema not in readable:
                tally.add(key, Unusable(records.UNKNOWN_SCHEMA, f"schema {schema} is not read by the new version"))
                continue
            keys.append(key)
            parsed.append(record)
        for key, problem in _check(provider, parsed, to_schema=to_schema, via=via, config=config):
            tally.add(keys[key], problem)
    problems = tally.result()
    report = PreflightReport(to_schema=to_schema, round_trip_via=via, checked=checked, by_schema=dict(by_schema),
                             problems=problems, seconds=round(time.monotonic() - started, 3))
    (log.info if report.ok else log.warning)("%s", report.summary())
    return report


def _check(provider: MigrationProvider, batch: list[Record], *, to_schema: int, via: int | None,
           config: SessionsConfig) -> list[tuple[int, Unusable]]:
    """(index, problem) for every record of ``batch`` the new version could not use."""
    problems: list[tuple[int, Unusable]] = []
    converted: list[tuple[int, Record]] = []
    for index, result in enumerate(convert(provider, batch, to_schema, schema_field=config.schema_field)):
        try:
            if isinstance(result, Unusable):
                raise result
            records.encode(result)
            converted.append((index, result))
        except Unusable as problem:
            problems.append((index, problem))
    if via is None or not converted:
        return problems
    # Digest first: the provider may modify the records it is given.
    digests = [records.user_digest(record, config.user_fields) for _, record in converted]
    down = convert(provider, [record for _, record in converted], via, schema_field=config.schema_field)
    went_down = [(i, d) for i, d in enumerate(down) if not isinstance(d, Unusable)]
    for i, result in enumerate(down):
        if isinstance(result, Unusable):
            problems.append((converted[i][0], Unusable(records.DOWN_CAST_REFUSED, result.label)))
    back = convert(provider, [d for _, d in went_down], to_schema, schema_field=config.schema_field)
    for (i, _), result in zip(went_down, back):
        if isinstance(result, Unusable) or records.user_digest(result, config.user_fields) != digests[i]:
            problems.append((converted[i][0], Unusable(records.ROUND_TRIP_MISMATCH,
                                                       f"user data differs after {to_schema}->{via}->{to_schema}")))
    return problems
