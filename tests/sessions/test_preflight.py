from __future__ import annotations

import json
import random

import pytest

from nahtlos.errors import HandoffBlocked
from nahtlos.sessions import records
from nahtlos.sessions.migrate import migrate_all
from nahtlos.sessions.preflight import preflight
from nahtlos.sessions.providers import PythonMigrations
from tests.sessions import twoformats
from tests.sessions.conftest import seed


def _snapshot_bytes(client) -> dict[bytes, bytes]:
    return {key: client.get(key) for key in client.keys("session:*") if client.type(key) == b"string"}


def test_a_store_the_new_version_reads_passes_with_counts_by_schema(store, client, config, provider):
    seed(client, 120)
    already_new = twoformats.migrate(twoformats.session_v1(999, rng=random.Random(1)), 2)
    client.set("session:already-new", json.dumps(already_new))

    report = preflight(store=store, config=config, provider=provider, to_schema=2, readable=[1, 2],
                       round_trip_via=1)

    assert report.ok
    assert report.checked == 121
    assert report.by_schema == {1: 120, 2: 1}
    assert report.problems.by_reason == {}
    report.raise_if_blocked()


def test_unreadable_sessions_block_the_preflight_and_are_reported_by_key_and_reason(store, client, config,
                                                                                     provider):
    seed(client, 50)
    client.set("session:corrupt", b'{"schema": 1, "user": {"name": "Erika Musterfrau"')
    client.set("session:future", json.dumps({"schema": 7, "account": {"name": "Max Mustermann"}}))
    client.set("session:noschema", json.dumps({"user": {"name": "Otto Normal"}}))
    client.set("session:broken-drafts", json.dumps({"schema": 1, "user": {}, "drafts": ["Lieschen Mueller"]}))
    client.hset("session:hash", "name", "Anna Beispiel")
    before = _snapshot_bytes(client)

    report = preflight(store=store, config=config, provider=provider, to_schema=2, readable=[1, 2])

    assert not report.ok
    assert report.checked == 55
    reasons = {o.key: o.reason.split(":")[0] for o in report.problems.offenders}
    assert reasons == {"session:corrupt": records.CORRUPT_JSON, "session:future": records.UNKNOWN_SCHEMA,
                       "session:noschema": records.NO_SCHEMA, "session:broken-drafts": records.MIGRATION_REFUSED,
                       "session:hash": records.NOT_STRING}
    assert sum(report.problems.by_reason.values()) == 5
    with pytest.raises(HandoffBlocked) as blocked:
        report.raise_if_blocked()
    message = str(blocked.value)
    assert "5 unreadable" in message and "session:corr…" in message
    for name in ("Erika", "Max Mustermann", "Otto", "Lieschen", "Anna"):
        assert name not in message and name not in report.model_dump_json()
    assert _snapshot_bytes(client) == before  # a preflight never writes


def test_a_schema_the_new_version_does_not_read_is_unknown_even_if_the_migration_could_convert_it(
        store, client, config, provider):
    seed(client, 3)

    report = preflight(store=store, config=config, provider=provider, to_schema=2, readable=[2])

    assert report.problems.by_reason == {"unknown_schema: schema 1 is not read by the new version": 3}


def test_a_lossy_down_cast_fails_the_round_trip(store, client, config):
    seed(client, 10)

    def lossy(record: dict, to_schema: int) -> dict:
        converted = twoformats.migrate(record, to_schema)
        if to_schema == 1:
            for pages in converted["drafts"].values():
                pages.pop("page-2", None)  # forgets the second page of every form
        return converted

    report = preflight(store=store, config=config, provider=PythonMigrations(lossy, name="lossy"), to_schema=2,
                       readable=[1, 2], round_trip_via=1)

    assert report.problems.by_reason == {"round_trip_mismatch: user data differs after 2->1->2": 10}


def test_a_missing_down_cast_is_reported_when_the_plan_needs_one(store, client, config):
    seed(client, 4)

    def up_only(record: dict, to_schema: int) -> dict:
        if to_schema < record["schema"]:
            raise ValueError("no down-cast to format 1")
        return twoformats.migrate(record, to_schema)

    report = preflight(store=store, config=config, provider=PythonMigrations(up_only, name="up"), to_schema=2,
                       round_trip_via=1)

    assert report.problems.by_reason == {"down_cast_refused: migration_refused: no down-cast to format 1": 4}


def test_json_python_accepts_but_the_standard_does_not_is_reported_and_huge_integers_stay_exact(
        store, client, config, provider):
    record = twoformats.session_v1(1, rng=random.Random(3))
    record["user"]["id"] = 123456789012345678901234567890  # beyond 64 bits
    client.set("session:huge", json.dumps(record))
    client.set("session:nan", json.dumps(record | {"score": float("nan")}))

    report = preflight(store=store, config=config, provider=provider, to_schema=2)

    assert report.problems.by_reason == {records.CORRUPT_JSON: 1}
    assert [o.key for o in report.problems.offenders] == ["session:nan"]
    client.delete("session:nan")
    migrate_all(store=store, config=config, provider=provider, to_schema=2)
    assert json.loads(client.get("session:huge"))["account"]["id"] == 123456789012345678901234567890
