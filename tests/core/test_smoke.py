import pytest
from pydantic import ValidationError

from nahtlos.errors import InvalidInput, PlatformError, UnknownObject
from nahtlos.httpsteps import FailureClass
from nahtlos.platforms.base import ModuleStatus, PlatformStatus, TrafficSplit, VersionStatus
from nahtlos.smoke import (Journey, JourneyRun, SmokeCheck, entry_base_url, run_journey, run_smoke, smoke_gate,
                           version_base_url)

from tests.core.appbuilder import app, module
from tests.core.citizen_app import SECRET_IN_BODY, build_app
from tests.fixtures.asgi import serve_asgi

CREDENTIALS = {"user": "erika", "password": "correct horse", "draft_text": "Anmeldung Heidestrasse"}
DRAFT_JOURNEY = {
    "checkpoint": "save-draft",
    "steps": [
        {"name": "login", "method": "POST", "path": "/login", "form": {"user": "{user}", "password": "{password}"},
         "status": 303},
        {"name": "csrf", "path": "/csrf", "capture": {"csrf": "cookie:csrftoken"}},
        {"name": "save-draft", "method": "POST", "path": "/api/drafts", "headers": {"X-CSRF": "{csrf}"},
         "body": {"text": "{draft_text}"}, "status": 201, "capture": {"draft_id": "id"}},
        {"name": "read-back", "path": "/api/drafts/{draft_id}", "json": {"text": "{draft_text}", "owner": "{user}"}},
    ],
}


@pytest.fixture(scope="module")
def base_url():
    with serve_asgi(build_app()) as url:
        yield url


def checks(*items: dict) -> list[SmokeCheck]:
    return [SmokeCheck.model_validate(item) for item in items]


def test_smoke_checks_count_passes_and_failures_by_class(base_url):
    report = run_smoke(checks=checks({"name": "forms", "path": "/api/forms", "json": {"status": "ok"}},
                                     {"name": "boom", "path": "/boom"},
                                     {"name": "home", "path": "/home"}),
                       base_url=base_url, target="forms 2.0.0 (direct)")
    assert (report.passed, report.failed, report.ok) == (1, 2, False)
    assert report.failure_classes == {"5xx": 1, "redirect-to-login": 1}
    assert SECRET_IN_BODY not in report.model_dump_json()


def test_smoke_checks_are_independent_so_a_login_does_not_leak_into_the_next_check(base_url):
    report = run_smoke(checks=checks({"name": "login", "method": "POST", "path": "/login",
                                      "form": {"user": "{user}", "password": "{password}"}, "status": 303},
                                     {"name": "home", "path": "/home"}),
                       base_url=base_url, target="entry", variables=CREDENTIALS)
    assert [r.ok for r in report.results] == [True, False]


def test_a_journey_keeps_its_session_from_login_to_reading_the_draft_back(base_url):
    journey = Journey.model_validate(DRAFT_JOURNEY)
    report = run_journey(journey, name="draft-survives", base_url=base_url, variables=CREDENTIALS)
    assert report.finished and report.completed_steps == 4 and report.paused_at is None
    assert "Heidestrasse" not in report.model_dump_json()


def test_a_journey_pauses_at_its_checkpoint_and_resumes_at_another_address_with_the_same_cookies(base_url):
    journey = Journey.model_validate(DRAFT_JOURNEY)
    with serve_asgi(build_app()) as other_url:  # another version, which knows nothing of the session
        with JourneyRun(journey, name="draft", base_url=base_url, variables=CREDENTIALS) as run:
            paused = run.run_to_checkpoint()
            assert paused.paused_at == "save-draft" and paused.completed_steps == 3 and paused.ok
            lost = run.resume(base_url=other_url, target="new version")
    assert not lost.ok and lost.target == "new version"
    assert lost.results[-1].step == "read-back" and lost.results[-1].failure is FailureClass.REDIRECT_TO_LOGIN
    assert lost.failure_classes == {"redirect-to-login": 1}


def test_a_resumed_journey_carries_its_cookies_to_a_version_on_another_port_sharing_the_store():
    journey = Journey.model_validate(DRAFT_JOURNEY)
    sessions, drafts = {}, {}
    with serve_asgi(build_app(sessions=sessions, drafts=drafts)) as old_url, \
            serve_asgi(build_app(sessions=sessions, drafts=drafts)) as new_url:
        with JourneyRun(journey, name="draft", base_url=old_url, variables=CREDENTIALS) as run:
            run.run_to_checkpoint()
            report = run.resume(base_url=new_url)
    assert report.finished and [r.step for r in report.results][-1] == "read-back"


def test_a_failing_journey_stops_at_the_failing_step(base_url):
    journey = Journey.model_validate(DRAFT_JOURNEY)
    report = run_journey(journey, name="d", base_url=base_url, variables={**CREDENTIALS, "password": "wrong"})
    assert [r.step for r in report.results] == ["login"] and report.failure_classes == {"4xx-unexpected": 1}
    assert not report.finished


def test_a_journey_without_credentials_is_refused_before_the_first_request(base_url):
    journey = Journey.model_validate(DRAFT_JOURNEY)
    assert journey.required_variables() == {"user", "password", "draft_text"}
    with pytest.raises(InvalidInput, match="password"):
        run_journey(journey, name="d", base_url=base_url, variables={"user": "erika", "draft_text": "x"})


def test_journey_definitions_are_checked_when_the_descriptor_loads():
    steps = DRAFT_JOURNEY["steps"]
    assert len(Journey.model_validate(steps).steps) == 4  # a bare list is a journey too
    with pytest.raises(ValidationError, match="before a step captures it"):
        Journey.model_validate([steps[3], steps[2]])
    with pytest.raises(ValidationError, match="unique"):
        Journey.model_validate([steps[0], steps[0]])
    with pytest.raises(ValidationError, match="checkpoint"):
        Journey.model_validate({"steps": steps, "checkpoint": "read-back"})


def test_the_descriptor_accepts_smoke_lists_and_journeys():
    application = app({"forms": {**module("1.0.0", v1_0_0={}),
                                 "smoke": [{"name": "forms-health", "method": "GET", "path": "/api/forms",
                                            "status": 200, "json": {"status": "ok"}}]}},
                      journeys={"draft-survives": DRAFT_JOURNEY})
    assert application.modules["forms"].smoke[0].expect_json == {"status": "ok"}
    assert application.journeys["draft-survives"].checkpoint == "save-draft"
    with pytest.raises(ValidationError):
        app({"forms": {**module("1.0.0", v1_0_0={}), "smoke": [{"name": "x", "path": "/", "colour": "red"}]}})


def test_smoke_gate_sums_failures_of_all_reports(base_url):
    good = run_smoke(checks=checks({"name": "forms", "path": "/api/forms"}), base_url=base_url, target="entry")
    bad = run_smoke(checks=checks({"name": "boom", "path": "/boom"}), base_url=base_url, target="forms 2.0.0")
    gate = smoke_gate([good, bad])
    assert gate.failures == 1 and not gate.passed and "1 5xx on forms 2.0.0" == gate.detail
    assert smoke_gate([good]).passed


def test_addresses_come_from_the_platform_status():
    version = VersionStatus(module="forms", version="2.0.0", ready=True, state="ready", address="127.0.0.1:8001")
    status = PlatformStatus(application="demo", entry_address=None, modules={"forms": ModuleStatus(
        module="forms", service_address=None, versions={"2.0.0": version},
        split=TrafficSplit(module="forms", configured={"2.0.0": 100}, live=None))})
    assert version_base_url(status, module="forms", version="2.0.0") == "127.0.0.1:8001"
    with pytest.raises(UnknownObject):
        version_base_url(status, module="forms", version="9.9.9")
    with pytest.raises(PlatformError):
        entry_base_url(status)
