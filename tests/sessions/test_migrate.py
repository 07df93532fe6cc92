from __future__ import annotations

import json
import threading
import time

import pytest
import redis

from nahtlos.errors import StoreUnreachable
from nahtlos.sessions.formats import census, set_write_format
from nahtlos.sessions.migrate import migrate_all
from nahtlos.sessions.providers import PythonMigrations
from nahtlos.sessions.redis_store import RedisSessionStore
from nahtlos.sessions.verify import snapshot, verify
from tests.sessions import twoformats
from tests.sessions.conftest import seed
from tests.sessions.writers import Writer, expected_user_data


class SlowMigrations(PythonMigrations):
    """The test migration, slowed down per batch so live writers overlap the migration."""

    def __init__(self, delay: float, on_batch=None) -> None:
        super().__init__(twoformats.migrate, name="slow")
        self.delay, self.on_batch, self.batches = delay, on_batch, 0

    def migrate_many(self, records, to_schema):
        self.batches += 1
        if self.on_batch:
            self.on_batch(self.batches)
        time.sleep(self.delay)
        return super().migrate_many(records, to_schema)


def _assert_nothing_lost(client: redis.Redis, sessions: dict[str, dict], notes: dict[str, str]) -> None:
    for key, original in sessions.items():
        raw = client.get(key)
        assert raw is not None, f"{key} lost"
        record = json.loads(raw)
        assert record["schema"] == 2, f"{key} not migrated"
        assert {f: record[f] for f in twoformats.USER_FIELDS} == expected_user_data(original, notes.get(key)), key
        assert client.ttl(key) > 0, f"{key} lost its TTL"


@pytest.mark.slow
def test_two_thousand_sessions_migrate_under_concurrent_writers_without_losing_a_session_or_a_write(
        redis_url, client, store, config, provider):
    sessions = seed(client, 2000)
    keys = sorted(sessions)
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)
    set_write_format(store=store, config=config, schema=2, settle_seconds=0)
    # Two users on the new version (writing format 2) and one on the old version that keeps
    # writing format 1 for a moment, as it would until its next poll of the format key.
    writers = [Writer(redis_url, keys[0::3], write_format=2, name="new-a", seed=1),
               Writer(redis_url, keys[1::3], write_format=2, name="new-b", seed=2),
               Writer(redis_url, keys[2::3], write_format=1, name="old", seed=3, stop_after=0.6)]
    for writer in writers:
        writer.start()
    time.sleep(0.05)
    started = time.monotonic()
    report = migrate_all(store=store, config=config, provider=SlowMigrations(0.01), to_schema=2, batch=50)
    finished = time.monotonic()
    for writer in writers:
        writer.stop()

    assert sum(w.writes_between(started, finished) for w in writers) > 100  # users really wrote meanwhile
    assert report.complete and report.remaining == 0 and report.problems.count == 0
    assert report.passes >= 2
    notes = {key: note for w in writers for key, note in w.last.items()}
    _assert_nothing_lost(client, sessions, notes)
    checked = verify(store=store, config=config, before=before)
    assert checked.ok, checked.summary()
    assert (checked.before, checked.after, checked.lost.count) == (2000, 2000, 0)
    assert checked.unchanged + checked.user_writes == 2000
    assert checked.user_writes == len(notes)


def test_a_user_write_between_the_migrations_read_and_write_wins(store, client, config):
    sessions = seed(client, 5)
    target = "session:s00002"

    def typing_user(record: dict, to_schema: int) -> dict:
        if record["csrf"] == sessions[target]["csrf"] and not typed.is_set():
            typed.set()  # the user saves a draft right after nahtlos read the session
            current = json.loads(client.get(target))
            client.set(target, json.dumps(twoformats.set_note(current, "typed meanwhile")), keepttl=True)
        return twoformats.migrate(record, to_schema)

    typed = threading.Event()
    report = migrate_all(store=store, config=config, provider=PythonMigrations(typing_user, name="t"), to_schema=2)

    assert typed.is_set()
    assert report.conflicts >= 1 and report.migrated == 5 and report.complete
    _assert_nothing_lost(client, sessions, {target: "typed meanwhile"})


class ReadCountingStore(RedisSessionStore):
    """Counts the keys the confirming pass reads; ``tracking=False`` plays a Redis that cannot track."""

    def __init__(self, client: redis.Redis, *, tracking: bool = True) -> None:
        super().__init__(client)
        self.tracking, self.keys_read = tracking, 0

    def read(self, keys):
        self.keys_read += len(keys)
        return super().read(keys)

    def writer(self, *, track_prefix=None):
        return super().writer(track_prefix=track_prefix if self.tracking else None)


@pytest.mark.parametrize("tracking", [True, False], ids=["redis-tracks-writes", "redis-cannot-track"])
def test_a_record_written_in_an_old_format_after_its_migration_is_migrated_again(redis_url, client, config,
                                                                                 tracking):
    sessions = seed(client, 600)
    notes: dict[str, str] = {}

    def old_version_writes(batch: int) -> None:
        if batch == 3:  # an old version, before its next poll of the format key, saves a migrated session
            key = next(k for k in sorted(sessions) if json.loads(client.get(k))["schema"] == 2)
            client.set(key, json.dumps(twoformats.set_note(sessions[key], "late")), keepttl=True)
            notes[key] = "late"

    store = ReadCountingStore(redis.Redis.from_url(redis_url), tracking=tracking)
    report = migrate_all(store=store, config=config, provider=SlowMigrations(0, old_version_writes), to_schema=2,
                         batch=200, writers=2)  # two writers: neither counts the other as a user

    assert report.complete and report.passes == 3 and report.migrated == 601  # the third finds nothing
    _assert_nothing_lost(client, sessions, notes)
    # Confirming passes read what someone touched when Redis can say so, else every key.
    assert store.keys_read == (1 if tracking else 2 * 600)
    store.close()


def test_records_the_migration_refuses_stay_untouched_and_are_reported(store, client, config, provider):
    seed(client, 20)
    client.set("session:odd", json.dumps({"schema": 1, "user": {}, "drafts": "not a mapping"}), ex=60)
    client.set("session:garbled", b"\x00\xff", ex=60)

    report = migrate_all(store=store, config=config, provider=provider, to_schema=2)

    assert report.migrated == 20
    assert not report.complete and report.remaining == 2
    assert {o.key for o in report.problems.offenders} == {"session:odd", "session:garbled"}
    assert client.get("session:garbled") == b"\x00\xff"
    assert census(store=store, config=config).by_schema == {2: 20, 1: 1}


@pytest.mark.slow
def test_a_redis_restart_during_the_migration_is_ridden_out_and_nothing_is_lost(redis_factory, config, provider):
    server = redis_factory(persistent=True)
    client = redis.Redis.from_url(server.url)
    sessions = seed(client, 2000)
    store = RedisSessionStore.from_url(server.url)
    paused, resumed, migrated_at_restart = threading.Event(), threading.Event(), []

    def restart_midway(batch: int) -> None:
        if batch == 10:
            paused.set()
            resumed.wait(30)

    def restart() -> None:
        paused.wait(30)
        migrated_at_restart.append(census(store=store, config=config).by_schema.get(2, 0))
        server.restart(down_seconds=0.5)
        resumed.set()

    restarter = threading.Thread(target=restart)
    restarter.start()
    report = migrate_all(store=store, config=config, provider=SlowMigrations(0, restart_midway), to_schema=2,
                         batch=50)
    restarter.join(30)

    assert 0 < migrated_at_restart[0] < 2000
    assert report.complete
    _assert_nothing_lost(redis.Redis.from_url(server.url), sessions, {})
    client.close()
    store.close()


@pytest.mark.slow
def test_the_migration_resumes_with_a_new_pass_when_the_store_stays_away_for_a_while(redis_factory, config,
                                                                                      provider):
    server = redis_factory(persistent=True)
    client = redis.Redis.from_url(server.url)
    sessions = seed(client, 600)
    store = RedisSessionStore.from_url(server.url, retries=0, timeout=2)  # no silent retries in the client
    restarted = threading.Thread(target=lambda: server.restart(down_seconds=1.0))

    def stop_midway(batch: int) -> None:
        if batch == 3:
            restarted.start()
            time.sleep(0.2)  # the server is down when this batch is written

    report = migrate_all(store=store, config=config, provider=SlowMigrations(0, stop_midway), to_schema=2,
                         batch=50, reconnect_deadline=30)
    restarted.join(30)

    assert report.reconnects >= 1 and report.passes >= 3
    assert report.complete
    _assert_nothing_lost(client, sessions, {})
    client.close()
    store.close()


def test_a_store_that_stays_away_past_the_deadline_fails_as_a_transient_error(redis_factory, config, provider):
    server = redis_factory(persistent=False)
    store = RedisSessionStore.from_url(server.url, retries=0, timeout=1)
    server.stop()

    with pytest.raises(StoreUnreachable) as failed:
        migrate_all(store=store, config=config, provider=provider, to_schema=2, reconnect_deadline=0.5)

    assert failed.value.transient
    store.close()
