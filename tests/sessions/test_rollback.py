from __future__ import annotations

import json
import time

import pytest

from nahtlos.errors import HandoffBlocked
from nahtlos.sessions.formats import assert_readable, read_write_format, set_write_format
from nahtlos.sessions.migrate import restore_for_rollback
from nahtlos.sessions.preflight import preflight
from tests.sessions import twoformats
from tests.sessions.conftest import seed
from tests.sessions.writers import Writer, expected_user_data

# The example's gateway: 1.8.0 reads [1] writes 1; 2.0.0 reads [1, 2], writes 2, can write [1, 2].
OLD_READS, NEW_READS, COMMON = [1], [1, 2], 1


def test_a_rollback_before_promotion_leaves_every_session_readable_by_the_old_version_with_all_typed_data(
        redis_url, client, store, config, provider):
    sessions = seed(client, 500)
    keys = sorted(sessions)
    preflight(store=store, config=config, provider=provider, to_schema=2, readable=NEW_READS,
              round_trip_via=COMMON).raise_if_blocked()
    set_write_format(store=store, config=config, schema=COMMON, settle_seconds=0)
    # Canary phase: users on both versions type; both write the common format.
    writers = [Writer(redis_url, keys[0::2], write_format=COMMON, name="canary", seed=1),
               Writer(redis_url, keys[1::2], write_format=COMMON, name="stable", seed=2)]
    for writer in writers:
        writer.start()
    time.sleep(0.4)
    for writer in writers:
        writer.stop()
    # A canary instance that had not polled the format key yet wrote its own format to a few sessions.
    stray = keys[:3]
    for key in stray:
        record = twoformats.set_note(twoformats.migrate(json.loads(client.get(key)), 2), "before the poll")
        client.set(key, json.dumps(record), keepttl=True)
    with pytest.raises(HandoffBlocked):
        assert_readable(store=store, config=config, readable=OLD_READS)

    report = restore_for_rollback(store=store, config=config, provider=provider, write_format=None,
                                  readable=OLD_READS, to_schema=1, settle_seconds=0)

    assert report.migrated == 3 and report.complete
    assert read_write_format(store=store, config=config) is None
    assert assert_readable(store=store, config=config, readable=OLD_READS).by_schema == {1: 500}
    notes = {key: note for w in writers for key, note in w.last.items()} | {key: "before the poll" for key in stray}
    assert len(notes) > 50
    for key, original in sessions.items():
        record = json.loads(client.get(key))
        assert record["schema"] == 1
        up = twoformats.migrate(record, 2)
        assert {f: up[f] for f in twoformats.USER_FIELDS} == expected_user_data(original, notes.get(key)), key
        assert client.ttl(key) > 0

