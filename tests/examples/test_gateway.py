"""The gateway: login, sessions and drafts in a real Redis, both session formats, the control key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from examples.buergerservice.sessions import migrate
from examples.buergerservice.stack import ModuleProcess
from nahtlos.sessions.redis_server import free_port

NEXT = {"forms": "2.0.0", "registry": "2.1.0", "portal": "1.3.0"}
POLL = 1.3  # the gateway reads the format control key every second


@contextmanager
def login(url: str, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url) as client:
        response = client.post("/api/login", json={"username": username, "password": "demo"})
        assert response.status_code == 200, response.text
        assert client.cookies.get("bs_session")
        yield client


def record_of(stack, client: httpx.Client) -> dict:
    raw = stack.redis().get("session:" + client.cookies["bs_session"])
    assert raw is not None
    return json.loads(raw)


def put_page(client: httpx.Client, form: str, page: str, fields: dict[str, str]) -> httpx.Response:
    return client.put(f"/api/drafts/{form}/{page}", json={"fields": fields})


@pytest.fixture
def format_key(stack):
    """A format control key of the test's own, so gateways started for it follow only this test."""
    key = f"test:session-format:{uuid.uuid4().hex}"
    yield key
    stack.redis().delete(key)


def test_login_and_a_draft_round_trip_through_redis(stack):
    with login(stack.url("gateway"), "buerger10001") as client:
        assert put_page(client, "dog-licence", "dog", {"dog_name": "Bello", "breed": "Dackel"}).json()["saved"]
        assert put_page(client, "dog-licence", "owner", {"last_name": "Huber", "postcode": "80331"}).status_code == 200
        draft = client.get("/api/drafts/dog-licence").json()
        assert draft["pages"] == {"dog": {"dog_name": "Bello", "breed": "Dackel"},
                                  "owner": {"last_name": "Huber", "postcode": "80331"}}
        stored = record_of(stack, client)
        assert stored["schema"] == 1 and stored["user"]["id"] == "buerger10001"
        assert stored["drafts"]["dog-licence"]["fields"]["dog.dog_name"] == "Bello"
        assert 1790 <= stack.redis().ttl("session:" + client.cookies["bs_session"]) <= 1800
        assert client.get("/api/me").json()["user_id"] == "buerger10001"


def test_a_page_with_problems_is_saved_and_the_problems_are_reported(stack):
    with login(stack.url("gateway"), "buerger10002") as client:
        saved = put_page(client, "residence-registration", "address", {"postcode": "99999"}).json()
        assert saved["saved"] and "postcode" in saved["errors"]
        assert put_page(client, "residence-registration", "nope", {}).status_code == 404
        assert put_page(client, "no-such-form", "x", {}).status_code == 404


def test_a_complete_draft_is_submitted_becomes_a_document_and_leaves_the_session(stack):
    with login(stack.url("gateway"), "buerger10003") as client:
        put_page(client, "dog-licence", "owner", {"last_name": "Huber", "postcode": "80331"})
        assert client.post("/api/forms/dog-licence/submit").status_code == 422  # the dog page is missing
        put_page(client, "dog-licence", "dog", {"dog_name": "Bello"})
        submitted = client.post("/api/forms/dog-licence/submit")
        assert submitted.status_code == 201
        assert client.get("/api/drafts/dog-licence").status_code == 404
        documents = client.get("/api/documents").json()["documents"]
        assert documents[0]["reference"] == submitted.json()["reference"]


def test_a_deleted_session_answers_401_and_html_pages_redirect_to_the_login(stack):
    with login(stack.url("gateway"), "buerger10004") as client:
        stack.redis().delete("session:" + client.cookies["bs_session"])
        assert client.get("/api/me").status_code == 401
    with httpx.Client(base_url=stack.url("gateway")) as anonymous:
        page = anonymous.get("/forms")
        assert page.status_code == 303 and page.headers["location"] == "/login"


def test_the_html_pages_log_in_fill_a_form_page_by_page_and_show_the_dashboard(stack):
    with httpx.Client(base_url=stack.url("gateway")) as browser:
        assert "Benutzername" in browser.get("/login").text
        assert browser.post("/login", data={"username": "buerger10005", "password": "wrong"}).status_code == 401
        logged_in = browser.post("/login", data={"username": "buerger10005", "password": "demo"})
        assert logged_in.status_code == 303 and browser.cookies.get("bs_session")
        assert browser.get("/forms/dog-licence").headers["location"] == "/forms/dog-licence/owner"
        page = browser.get("/forms/dog-licence/owner")
        assert page.status_code == 200 and 'name="postcode"' in page.text
        saved = browser.post("/forms/dog-licence/owner", data={"last_name": "Huber", "postcode": "80331"})
        assert saved.status_code == 303 and saved.headers["location"] == "/forms/dog-licence/dog"
        assert 'value="Huber"' in browser.get("/forms/dog-licence/owner").text
        dashboard = browser.get("/")
        assert dashboard.status_code == 200 and "dog-licence" in dashboard.text
        assert "Termine" in browser.get("/appointments").text


def test_gateway_2_reads_a_format_1_session_and_writes_the_format_the_control_key_names(stack, format_key):
    old = stack.url("gateway", "1.8.0", use=NEXT, env={"SESSION_FORMAT_KEY": format_key})
    new = stack.url("gateway", "2.0.0", use=NEXT, env={"SESSION_FORMAT_KEY": format_key})
    with login(old, "buerger10006") as client:
        put_page(client, "parking-permit", "applicant", {"last_name": "Huber", "postcode": "80333"})
        assert record_of(stack, client)["schema"] == 1
        cookies = {"bs_session": client.cookies["bs_session"]}

    stack.redis().set(format_key, "1")
    time.sleep(POLL)
    with httpx.Client(base_url=new, cookies=cookies) as on_new:
        saved = put_page(on_new, "parking-permit", "vehicle", {"plate": "M-AB 1234"})
        assert saved.json()["derived"] == {}  # vehicle page: no address, nothing derived
        assert saved.headers["x-served-by"] == "gateway/2.0.0"
        stored = record_of(stack, on_new)
        assert stored["schema"] == 1 and stored["drafts"]["parking-permit"]["fields"]["vehicle.plate"] == "M-AB 1234"

        stack.redis().set(format_key, "2")
        time.sleep(POLL)
        put_page(on_new, "parking-permit", "contact", {"email": "a@example.org"})
        stored = record_of(stack, on_new)
        assert stored["schema"] == 2 and stored["account"]["id"] == "buerger10006"
        assert set(stored["drafts"]["parking-permit"][0]["pages"]) == {"applicant", "vehicle", "contact"}

    with httpx.Client(base_url=old, cookies=cookies) as back_on_old:
        assert back_on_old.get("/api/me").status_code == 401  # 1.8.0 cannot read format 2: why handoffs exist
        key = "session:" + cookies["bs_session"]
        stack.redis().set(key, json.dumps(migrate(json.loads(stack.redis().get(key)), 1)), keepttl=True)
        pages = back_on_old.get("/api/drafts/parking-permit").json()["pages"]
        assert set(pages) == {"applicant", "vehicle", "contact"}


def test_without_a_control_key_each_gateway_writes_its_own_default_format(stack, format_key):
    new = stack.url("gateway", "2.0.0", use=NEXT, env={"SESSION_FORMAT_KEY": format_key})
    with login(new, "buerger10007") as client:
        put_page(client, "dog-licence", "dog", {"dog_name": "Rex"})
        assert record_of(stack, client)["schema"] == 2
        assert client.get("/api/drafts/dog-licence").json()["pages"] == {"dog": {"dog_name": "Rex"}}


def test_the_migration_endpoint_of_gateway_2_converts_both_ways_and_refuses_without_contents(stack):
    url = stack.url("gateway", "2.0.0", use=NEXT)
    record = {"schema": 1, "created": 1.0, "user": {"id": "u", "name": "Erika", "email": "e", "language": "de"},
              "drafts": {"dog-licence": {"fields": {"dog.dog_name": "Bello"}, "updated": 2.0}}}
    up = httpx.post(url + "/_nahtlos/sessions/migrate", json={"to": 2, "record": record})
    assert up.status_code == 200 and up.json()["record"]["account"]["display_name"] == "Erika"
    down = httpx.post(url + "/_nahtlos/sessions/migrate", json={"to": 1, "record": up.json()["record"]})
    assert down.json()["record"] == record
    broken = httpx.post(url + "/_nahtlos/sessions/migrate",
                        json={"to": 2, "record": {**record, "user": {"id": "Geheim-4711"}}})
    assert broken.status_code == 422 and "Geheim-4711" not in broken.text
    assert httpx.post(url + "/_nahtlos/sessions/migrate", content=b"[]").status_code == 422
    assert httpx.post(stack.url("gateway", "1.8.0") + "/_nahtlos/sessions/migrate",
                      json={"to": 2, "record": record}).status_code == 404


def test_portal_1_2_cannot_read_a_format_2_session_and_portal_1_3_can(stack, format_key):
    new = stack.url("gateway", "2.0.0", use=NEXT, env={"SESSION_FORMAT_KEY": format_key})
    with login(new, "buerger10008") as client:
        put_page(client, "dog-licence", "dog", {"dog_name": "Rex"})
        assert client.get("/").status_code == 200  # the stack's portal for NEXT is 1.3.0
        sid = {"x-session-id": client.cookies["bs_session"]}
    assert httpx.get(stack.url("portal", "1.2.0") + "/ui/dashboard", headers=sid).status_code == 500
    dashboard = httpx.get(stack.url("portal", "1.3.0") + "/ui/dashboard", headers=sid)
    assert dashboard.status_code == 200 and "dog-licence" in dashboard.text


def test_portal_preferences_are_written_in_the_format_the_control_key_names(stack, format_key):
    old_gateway = stack.url("gateway", "1.8.0", env={"SESSION_FORMAT_KEY": format_key})
    portal = stack.url("portal", "1.3.0", env={"SESSION_FORMAT_KEY": format_key})
    with login(old_gateway, "buerger10009") as client:
        sid = client.cookies["bs_session"]
    headers = {"x-session-id": sid}
    assert httpx.put(portal + "/ui/preferences", json={"language": "en"}, headers=headers).status_code == 200
    stored = json.loads(stack.redis().get("session:" + sid))
    assert stored["schema"] == 1 and stored["user"]["language"] == "en"  # portal 1.3.0 writes 1 by default
    stack.redis().set(format_key, "2")
    time.sleep(POLL)
    httpx.put(portal + "/ui/preferences", json={"language": "de"}, headers=headers)
    stored = json.loads(stack.redis().get("session:" + sid))
    assert stored["schema"] == 2 and stored["account"]["language"] == "de"


def test_without_its_redis_the_gateway_is_not_ready_and_answers_503(stack, tmp_path):
    env = {**stack.base_env(), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
           **{f"{m.upper()}_SERVICE_URL": stack.url(m) for m in ("auth", "portal", "forms")}}
    gateway = ModuleProcess("gateway", "1.8.0", free_port(), tmp_path / "gateway.log", env=env)
    gateway.spawn()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(gateway.url + "/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, gateway.log.read_text()[-1000:]
                time.sleep(0.2)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        answer = httpx.get(gateway.url + "/api/me", cookies={"bs_session": "abc"})
        assert answer.status_code == 503 and "Traceback" not in gateway.log.read_text()
    finally:
        gateway.stop()
