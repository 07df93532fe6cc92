"""Session contents never reach logs, exceptions or reports, even when the migration misbehaves."""

from __future__ import annotations

import json
import logging

import pytest

from nahtlos.errors import HandoffBlocked
from nahtlos.sessions.migrate import migrate_all
from nahtlos.sessions.preflight import preflight
from nahtlos.sessions.providers import PythonMigrations, provider_for
from nahtlos.sessions.verify import snapshot, verify
from tests.sessions import twoformats
from tests.sessions.conftest import make_config
from tests.sessions.migration_server import address, migration_server

# Values a citizen typed; none of them may appear anywhere nahtlos writes.
SECRETS = ["Erika Mustermann", "erika@example.org", "Heidestrasse 17", "DE89370400440532013000",
           "rt-very-secret-refresh-token"]


def _citizen(schema_ok: bool = True) -> dict:
    return {"schema": 1, "csrf": "c", "tokens": {"refresh": SECRETS[4]},
            "user": {"id": "u1", "name": SECRETS[0], "email": SECRETS[1]},
            "drafts": {"wohnsitz-anmelden": {"page-1": {"strasse": SECRETS[2], "iban": SECRETS[3]}}}
            if schema_ok else [SECRETS[2], SECRETS[3]]}


def _leaky(record: dict, to_schema: int) -> dict:
    """A migration that breaks the contract: its errors quote the record."""
    drafts = record.get("drafts")
    if isinstance(drafts, list):
        raise ValueError(f"cannot read drafts {drafts} of {record['user']['name']} <{record['user']['email']}>")
    if to_schema == 2 and record["user"]["email"].startswith("erika"):
        raise KeyError(record["tokens"]["refresh"])
    return twoformats.migrate(record, to_schema)


def _seed_citizens(client) -> None:
    client.set("session:leaky-error", json.dumps(_citizen(schema_ok=False)), ex=600)
    client.set("session:crashing", json.dumps(_citizen()), ex=600)
    client.set("session:corrupt", json.dumps(_citizen())[:-20], ex=600)
    client.set("session:future", json.dumps(_citizen() | {"schema": 9}), ex=600)


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret.split()[0] not in text


def test_a_failing_migration_leaks_no_session_contents_into_logs_reports_or_errors(store, client, config, caplog):
    caplog.set_level(logging.DEBUG)
    _seed_citizens(client)
    provider = PythonMigrations(_leaky, name="leaky")

    checked = preflight(store=store, config=config, provider=provider, to_schema=2, readable=[1, 2],
                        round_trip_via=1)
    with pytest.raises(HandoffBlocked) as blocked:
        checked.raise_if_blocked()
    before = snapshot(store=store, config=config, provider=provider, to_schema=2)
    migrated = migrate_all(store=store, config=config, provider=provider, to_schema=2)
    verified = verify(store=store, config=config, before=before)
    with pytest.raises(HandoffBlocked) as failed:
        verified.raise_if_failed()

    assert checked.problems.count == 4 and migrated.problems.count == 4 and verified.unreadable.count == 1
    reasons = str(checked.problems.by_reason)
    assert "migration_refused" in reasons and "raised KeyError" in reasons
    _assert_clean(caplog.text, str(blocked.value), str(failed.value), repr(before),
                  *(r.model_dump_json() for r in (checked, migrated, verified)),
                  checked.summary(), migrated.summary(), verified.summary())


def test_an_http_endpoint_that_quotes_the_record_in_its_error_is_scrubbed(store, client, caplog):
    caplog.set_level(logging.DEBUG)
    _seed_citizens(client)
    config = make_config(migrations={"http": {"module": "gateway"}})
    with migration_server() as server:
        server.leaky = True
        report = preflight(store=store, config=config, provider=provider_for(config, address=address(server)),
                           to_schema=2)

    assert report.problems.count == 3  # the leaky one, the corrupt one, schema 9
    _assert_clean(caplog.text, report.model_dump_json(), report.summary())
