"""Every Buergerservice module version starts, is ready, names itself and serves its API."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from examples.buergerservice import VERSIONS
from nahtlos.loader import load_application
from nahtlos.sessions.redis_server import free_port
from examples.buergerservice.stack import DESCRIPTOR, ModuleProcess

ALL_VERSIONS = [(module, version) for module, versions in VERSIONS.items() for version in versions]


def test_the_code_implements_exactly_the_versions_the_descriptor_lists():
    app = load_application(DESCRIPTOR)
    assert {m: tuple(sorted(mod.versions)) for m, mod in app.modules.items()} == \
        {m: tuple(sorted(v)) for m, v in VERSIONS.items()}


@pytest.mark.slow
@pytest.mark.parametrize("module, version", ALL_VERSIONS, ids=[f"{m}-{v}" for m, v in ALL_VERSIONS])
def test_each_module_version_is_ready_and_names_itself_in_every_response(stack, module, version):
    use = {"registry": "2.1.0"} if (module, version) == ("forms", "2.0.0") else {}
    if (module, version) == ("gateway", "2.0.0"):
        use = {"forms": "2.0.0", "registry": "2.1.0"}
    url = stack.url(module, version, use=use)
    health = httpx.get(url + "/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "module": module, "version": version}
    assert health.headers["x-served-by"] == f"{module}/{version}"
    missing = httpx.get(url + "/no-such-page")
    assert missing.headers["x-served-by"] == f"{module}/{version}"
    assert missing.status_code == 404 or (module, version) == ("payments", "3.1.0")  # 500s by design


def test_registry_2_1_adds_the_district_and_2_0_does_not(stack):
    old = httpx.get(stack.url("registry", "2.0.0") + "/api/citizens/buerger00001").json()
    new = httpx.get(stack.url("registry", "2.1.0") + "/api/citizens/buerger00001").json()
    assert "district" not in old["address"] and new["address"]["district"]
    assert {k: v for k, v in new["address"].items() if k != "district"} == old["address"]


def test_auth_logs_a_citizen_in_with_the_name_from_the_registry(stack):
    url = stack.url("auth")
    ok = httpx.post(url + "/api/login", json={"username": "buerger00001", "password": "demo"})
    assert ok.status_code == 200 and ok.json()["user_id"] == "buerger00001" and ok.json()["name"]
    wrong = httpx.post(url + "/api/login", json={"username": "buerger00001", "password": "nope"})
    assert wrong.status_code == 401


def test_forms_1_4_serves_only_api_1_and_forms_2_0_serves_1_5_and_2_0(stack):
    old, new = stack.url("forms", "1.4.0"), stack.url("forms", "2.0.0", use={"registry": "2.1.0"})
    assert httpx.get(old + "/v2/forms").status_code == 404
    v1_old = httpx.get(old + "/v1/forms/parking-permit").json()
    v1_new = httpx.get(new + "/v1/forms/parking-permit").json()
    assert v1_new.pop("successor") == "/v2/forms/parking-permit" and v1_new == v1_old
    v2 = httpx.get(new + "/v2/forms/parking-permit").json()
    assert [s["id"] for s in v2["steps"]] == [p["name"] for p in v1_old["pages"]]
    check = httpx.post(new + "/v2/forms/parking-permit/steps/applicant/check",
                       json={"values": {"last_name": "Huber", "postcode": "80333"}}).json()
    assert check == {"ok": True, "problems": [], "derived": {"district": "Maxvorstadt"}}


def test_forms_2_0_refuses_to_work_against_registry_2_0_which_lacks_the_district(stack):
    url = stack.url("forms", "2.0.0", use={"registry": "2.0.0"})
    check = httpx.post(url + "/v2/forms/parking-permit/steps/applicant/check", json={"values": {"postcode": "80333"}})
    assert check.status_code == 502 and check.json()["upstream"] == "registry"


def test_forms_checks_values_and_the_postcode_with_the_registry(stack):
    url = stack.url("forms", "1.4.0")
    bad = httpx.post(url + "/v1/forms/residence-registration/pages/address/validate",
                     json={"fields": {"postcode": "99999", "move_in": "soon"}}).json()
    assert bad["valid"] is False and set(bad["errors"]) == {"postcode", "move_in"}
    assert httpx.post(url + "/v1/forms/residence-registration/pages/nope/validate", json={}).status_code == 404
    missing = httpx.post(url + "/v1/forms/dog-licence/submissions", json={"user_id": "u", "fields": {}})
    assert missing.status_code == 422 and "owner.last_name" in missing.json()["missing"]


def test_appointments_1_3_adds_duration_and_accessibility_to_slots(stack):
    old = httpx.get(stack.url("appointments", "1.2.0") + "/api/slots?office=bb-riem&limit=2").json()["slots"]
    new = httpx.get(stack.url("appointments", "1.3.0") + "/api/slots?office=bb-riem&limit=2").json()["slots"]
    assert len(old) == len(new) == 2 and "duration_minutes" not in old[0]
    assert new[0]["duration_minutes"] == 20 and new[0]["accessible"] is True


def test_a_booked_slot_is_gone_for_everyone_and_cannot_be_booked_twice(stack):
    url = stack.url("appointments", "1.2.0")
    slot = httpx.get(url + "/api/slots?office=bb-pasing&limit=1").json()["slots"][0]["id"]
    assert httpx.post(url + "/api/bookings", json={"user_id": "buerger00002", "slot_id": slot}).status_code == 201
    assert httpx.post(url + "/api/bookings", json={"user_id": "buerger00003", "slot_id": slot}).status_code == 409
    other = stack.url("appointments", "1.3.0")
    assert slot not in [s["id"] for s in httpx.get(other + "/api/slots?office=bb-pasing&limit=5").json()["slots"]]
    assert httpx.get(other + "/api/bookings?user_id=buerger00002").json()["bookings"][0]["id"] == slot


def test_documents_are_issued_with_the_form_title_and_listed_per_citizen(stack):
    url = stack.url("documents", "1.1.0")
    issued = httpx.post(url + "/api/documents", json={"user_id": "buerger00004", "form": "dog-licence",
                                                      "reference": "BS-TEST"})
    assert issued.status_code == 201 and issued.json()["format"] == "pdf"
    listed = httpx.get(stack.url("documents", "1.0.0") + "/api/documents?user_id=buerger00004").json()
    assert listed["documents"][0]["title"] == "Bestätigung: Hundesteuer-Anmeldung"


def test_payments_take_a_fee_and_send_a_receipt(stack):
    url = stack.url("payments", "3.0.2")
    assert httpx.get(url + "/api/fees?service=parking-permit").json()["amount_cents"] == 3000
    paid = httpx.post(url + "/api/payments", json={"user_id": "buerger00005", "service": "parking-permit"})
    assert paid.status_code == 201 and paid.json()["status"] == "paid"


def test_payments_3_1_0_answers_500_to_about_a_tenth_of_its_requests_but_not_to_readiness(stack):
    url = stack.url("payments", "3.1.0")
    with httpx.Client(base_url=url) as client:
        statuses = [client.get("/api/fees?service=parking-permit").status_code for _ in range(300)]
        assert client.get("/api/fees?service=dog-licence").status_code == 500  # the fee-table defect
        health = [client.get("/healthz").status_code for _ in range(50)]
    assert set(statuses) == {200, 500}
    assert 8 <= statuses.count(500) <= 60  # binomial(300, 0.1): mean 30, sd 5.2
    assert set(health) == {200}


@pytest.mark.slow
def test_an_in_flight_request_finishes_after_sigterm_and_the_process_exits_cleanly(stack, tmp_path):
    slow = ModuleProcess("registry", "2.0.0", free_port(), tmp_path / "registry.log",
                         env={**stack.base_env(), "BS_EXTRA_LATENCY_MS": "1500"})
    slow.spawn()
    try:
        slow.wait_ready()
        result: dict[str, object] = {}

        def call() -> None:
            result["response"] = httpx.get(slow.url + "/api/citizens/buerger00001", timeout=10)

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.5)  # the request is now sleeping inside the server
        assert slow.process is not None
        slow.process.send_signal(signal.SIGTERM)
        caller.join(10)
        response = result["response"]
        assert isinstance(response, httpx.Response) and response.status_code == 200
        # uvicorn re-raises the signal once it has shut down gracefully: -SIGTERM, not a kill
        assert slow.process.wait(10) in (0, -signal.SIGTERM)
    finally:
        slow.stop()
