from __future__ import annotations

import json
import random
import time

from nahtlos.sessions.migrate import migrate_all
from nahtlos.sessions.providers import PythonMigrations
from nahtlos.sessions.verify import snapshot, verify
from tests.sessions import twoformats
from tests.sessions.conftest import make_config, seed


def test_a_clean_migration_verifies_with_every_session_unchanged(store, client, config, provider):
    seed(client, 300)
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)
    migrate_all(store=store, config=config, provider=provider, to_schema=2)

    report = verify(store=store, config=config, before=before)

    assert report.ok
    assert (report.before, report.after, report.unchanged, report.user_writes) == (300, 300, 300, 0)


def test_a_session_gone_before_its_ttl_ran_out_is_lost_and_one_past_its_ttl_expired(store, client, config,
                                                                                    provider):
    seed(client, 20)
    client.pexpire("session:s00003", 300)
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)
    migrate_all(store=store, config=config, provider=provider, to_schema=2)
    client.delete("session:s00007")
    time.sleep(0.4)

    report = verify(store=store, config=config, before=before)

    assert not report.ok
    assert report.expired == 1
    assert [o.key for o in report.lost.offenders] == ["session:s00007"]
    assert "1 lost" in report.summary() and "session:s000…" in report.summary()


def test_user_writes_and_new_sessions_during_the_window_are_told_apart_from_losses(store, client, config,
                                                                                  provider):
    seed(client, 20)
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)
    # One user types before the migration reaches the session, one after.
    early = json.loads(client.get("session:s00001"))
    client.set("session:s00001", json.dumps(twoformats.set_note(early, "early")), keepttl=True)
    migrate_all(store=store, config=config, provider=provider, to_schema=2)
    late = json.loads(client.get("session:s00002"))
    client.set("session:s00002", json.dumps(twoformats.set_note(late, "late")), keepttl=True)
    client.set("session:newcomer", json.dumps(twoformats.migrate(twoformats.session_v1(
        99, rng=random.Random(2)), 2)), ex=60)

    report = verify(store=store, config=config, before=before)

    assert report.ok
    assert (report.unchanged, report.user_writes, report.created, report.after) == (18, 2, 1, 21)


def test_user_data_the_migration_itself_changed_is_caught_by_the_journal(store, client, config):
    seed(client, 10)
    calls = {"n": 0}

    def flaky(record: dict, to_schema: int) -> dict:
        """Correct while the snapshot is taken, then drops a draft page: not deterministic."""
        calls["n"] += 1
        converted = twoformats.migrate(record, to_schema)
        if calls["n"] > 10 and record["csrf"].endswith("4"):
            converted["drafts"][0]["pages"].pop("page-2")
        return converted

    provider = PythonMigrations(flaky, name="flaky")
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)
    migrate_all(store=store, config=config, provider=provider, to_schema=2)

    report = verify(store=store, config=config, before=before)

    assert not report.ok
    assert [o.key for o in report.changed_by_migration.offenders] == ["session:s00004"]
    assert report.unchanged == 9


def test_sessions_left_in_the_old_format_fail_the_verification(store, client, config, provider):
    seed(client, 10)
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)

    report = verify(store=store, config=config, before=before)

    assert not report.ok and report.not_migrated.count == 10
    assert report.not_migrated.by_reason == {"schema 1": 10}


def test_a_logout_the_application_recorded_counts_as_ended_not_lost(store, client, provider):
    config = make_config(ended_key="nahtlos:session-ended:test")
    seed(client, 10)
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)
    migrate_all(store=store, config=config, provider=provider, to_schema=2)
    client.delete("session:s00001", "session:s00002")
    client.sadd("nahtlos:session-ended:test", "session:s00001")  # the gateway's logout

    report = verify(store=store, config=config, before=before)

    assert (report.ended, report.lost.count) == (1, 1)
    assert [o.key for o in report.lost.offenders] == ["session:s00002"]
