from __future__ import annotations

import json

from nahtlos.sessions.formats import census, count_live, read_write_format, set_write_format


def test_setting_the_write_format_waits_one_poll_interval_only_when_it_changes(store, config):
    waits: list[float] = []

    first = set_write_format(store=store, config=config, schema=1, settle_seconds=2.5, sleep=waits.append)
    again = set_write_format(store=store, config=config, schema=1, settle_seconds=2.5, sleep=waits.append)
    cleared = set_write_format(store=store, config=config, schema=None, settle_seconds=2.5, sleep=waits.append)

    assert (first.previous, first.current, first.settled_seconds) == (None, 1, 2.5)
    assert (again.previous, again.current, again.settled_seconds) == (1, 1, 0.0)
    assert (cleared.previous, cleared.current) == (1, None)
    assert waits == [2.5, 2.5]
    assert read_write_format(store=store, config=config) is None


def test_the_format_key_holds_a_plain_integer_that_any_language_can_read(store, client, config):
    set_write_format(store=store, config=config, schema=2, settle_seconds=0)

    assert client.get("nahtlos:session-format:test") == b"2"
    assert client.ttl("nahtlos:session-format:test") == -1


def test_the_census_counts_live_sessions_by_format_inside_the_store(store, client, config):
    for i in range(7):
        client.set(f"session:a{i}", json.dumps({"schema": 1}))
    for i in range(3):
        client.set(f"session:b{i}", json.dumps({"schema": 2, "drafts": []}))
    client.set("session:c", "{broken")
    client.set("session:d", json.dumps({"schema": "2"}))
    client.rpush("session:e", "x")
    client.set("other:x", json.dumps({"schema": 1}))

    counted = census(store=store, config=config)

    assert counted.by_schema == {1: 7, 2: 3}
    assert counted.by_problem == {"corrupt_json": 1, "no_schema": 1, "not_a_string": 1}
    assert counted.total == 13
    assert counted.outside([2]) == 10


def test_pins_of_sessions_that_expired_in_the_store_do_not_count_as_live(store, client, config):
    client.set("session:alive", json.dumps({"schema": 1}), ex=60)
    client.set("session:broken", "{", ex=60)

    assert count_live(store=store, config=config, session_ids=["alive", "broken", "expired", "alive"]) == 2
