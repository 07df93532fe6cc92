from __future__ import annotations

import json

import pytest

from nahtlos.errors import InvalidInput, MigrationUnavailable
from nahtlos.sessions.migrate import migrate_all
from nahtlos.sessions.preflight import preflight
from nahtlos.sessions.providers import HttpMigrations, provider_for
from nahtlos.sessions.redis_server import free_port
from tests.sessions.conftest import make_config, seed
from tests.sessions.migration_server import MigrationServer, address, migration_server

HTTP_CONFIG = make_config(migrations={"http": {"module": "gateway", "path": "/_nahtlos/sessions/migrate"}})


@pytest.fixture
def server() -> MigrationServer:
    with migration_server() as running:
        yield running


def test_a_preflight_through_the_http_endpoint_checks_every_session_with_the_round_trip(store, client, server):
    seed(client, 60)
    provider = provider_for(HTTP_CONFIG, address=address(server))

    report = preflight(store=store, config=HTTP_CONFIG, provider=provider, to_schema=2, readable=[1, 2],
                       round_trip_via=1)

    assert report.ok and report.checked == 60
    assert server.calls == 180  # up, down, up again for each session


def test_the_bulk_migration_through_the_http_endpoint_converts_every_session(store, client, server):
    seed(client, 80)
    provider = provider_for(HTTP_CONFIG, address=address(server) + "/")

    report = migrate_all(store=store, config=HTTP_CONFIG, provider=provider, to_schema=2)

    assert report.complete and report.migrated == 80
    assert {json.loads(client.get(k))["schema"] for k in client.keys("session:*")} == {2}


def test_a_422_answer_marks_the_record_unreadable_with_the_endpoints_reason(store, client, server):
    seed(client, 5)
    client.set("session:bad", json.dumps({"schema": 1, "user": {}, "drafts": []}))
    provider = provider_for(HTTP_CONFIG, address=address(server))

    report = preflight(store=store, config=HTTP_CONFIG, provider=provider, to_schema=2)

    assert report.problems.by_reason == {
        "migration_refused: format 1 needs a 'user' object and a 'drafts' object": 1}
    assert [o.key for o in report.problems.offenders] == ["session:bad"]


def test_an_unavailable_endpoint_stops_the_preflight_with_a_transient_error_instead_of_blaming_sessions(
        store, client, server):
    seed(client, 5)
    server.unavailable = True

    with pytest.raises(MigrationUnavailable, match="HTTP 503") as failed:
        preflight(store=store, config=HTTP_CONFIG, provider=provider_for(HTTP_CONFIG, address=address(server)),
                  to_schema=2)

    assert failed.value.transient


def test_an_endpoint_nobody_listens_on_is_unavailable(store, client):
    seed(client, 2)
    provider = HttpMigrations(url=f"http://127.0.0.1:{free_port()}/_nahtlos/sessions/migrate", timeout=2)

    with pytest.raises(MigrationUnavailable, match="not reachable"):
        preflight(store=store, config=HTTP_CONFIG, provider=provider, to_schema=2)


def test_the_http_provider_needs_the_address_of_a_running_version():
    with pytest.raises(InvalidInput, match="module gateway"):
        provider_for(HTTP_CONFIG)
