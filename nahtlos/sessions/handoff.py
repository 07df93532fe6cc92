"""The session handoff as plain functions the release flow calls, in this order.

Per wave whose modules carry a ``session`` spec (the planner gives ``common``,
the format written while old and new run side by side, and ``stored``, the
format kept after the wave):

1. before the canary gets traffic::

       preflight(store=, config=, provider=, to_schema=new.writes, readable=new.reads,
                 round_trip_via=common).raise_if_blocked()
       set_write_format(store=, config=, schema=common)

2. rollback at any point before promotion (the store only holds formats the old
   version reads, because ``common`` is one)::

       restore_for_rollback(store=, config=, provider=, write_format=<format before the wave>,
                            readable=old.reads, to_schema=old.writes)
       assert_readable(store=, config=, readable=old.reads)

3. after promotion, drain by session count: the platform waits for the sessions
   pinned to the old version (``Platform.drain``; ``count_live`` tells which
   pinned sessions still exist in the store); before it moves the rest,
   ``preflight`` again proves the new version reads them; ``census`` counts the
   live sessions per stored format;

4. once the old version is retired::

       before = snapshot(store=, config=, provider=, to_schema=stored)
       set_write_format(store=, config=, schema=stored)
       migrate_all(store=, config=, provider=, to_schema=stored)
       verify(store=, config=, before=before).raise_if_failed()

Every result is a pydantic model of counts, reasons and keys; ``summary()``
is what belongs in logs and artifacts.
"""

from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.formats import (FORMAT_POLL_SECONDS, assert_readable, census, count_live,
                                      read_write_format, set_write_format)
from nahtlos.sessions.migrate import migrate_all, restore_for_rollback
from nahtlos.sessions.models import (FormatChange, MigrationReport, PreflightReport, Problems, SessionCensus,
                                     VerifyReport)
from nahtlos.sessions.preflight import preflight
from nahtlos.sessions.providers import HttpMigrations, MigrationProvider, PythonMigrations, provider_for
from nahtlos.sessions.redis_store import RedisSessionStore
from nahtlos.sessions.store import SessionStore
from nahtlos.sessions.verify import SessionSnapshot, snapshot, verify

__all__ = [
    "FORMAT_POLL_SECONDS", "FormatChange", "HttpMigrations", "MigrationProvider", "MigrationReport",
    "PreflightReport", "Problems", "PythonMigrations", "RedisSessionStore", "SessionCensus", "SessionSnapshot",
    "SessionStore", "SessionsConfig", "VerifyReport", "assert_readable", "census", "count_live", "migrate_all",
    "preflight",
    "provider_for", "read_write_format", "restore_for_rollback", "set_write_format", "snapshot", "verify",
]
