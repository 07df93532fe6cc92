import pytest

from nahtlos.errors import InvalidInput
from nahtlos.httpsteps import FailureClass, HttpStep, StepRunner, lookup, render_value

from tests.core.citizen_app import SECRET_IN_BODY, build_app
from tests.fixtures.asgi import closed_port, serve_asgi

LOGIN = {"name": "login", "method": "post", "path": "/login",
         "form": {"user": "{user}", "password": "{password}"}, "status": 303}
CREDENTIALS = {"user": "erika", "password": "correct horse"}


@pytest.fixture(scope="module")
def base_url():
    with serve_asgi(build_app()) as url:
        yield url


def step(**fields) -> HttpStep:
    return HttpStep.model_validate(fields)


def run_one(base_url: str, variables=None, **fields):
    with StepRunner(base_url=base_url, variables=variables, timeout=5) as runner:
        return runner.run(step(**fields))


def test_a_matching_status_and_json_fields_pass(base_url):
    result = run_one(base_url, name="forms", path="/api/forms", json={"status": "ok", "forms.1.id": "ummeldung"})
    assert result.ok and result.status == 200 and result.failure is None and result.message is None


def test_a_5xx_is_classified_and_the_message_names_step_and_statuses_but_never_the_body(base_url):
    result = run_one(base_url, name="boom", path="/boom")
    assert result.failure is FailureClass.SERVER_ERROR and result.status == 503
    assert "'boom'" in result.message and "expected status 200, got 503" in result.message
    assert SECRET_IN_BODY not in result.model_dump_json()


def test_an_unexpected_4xx_is_its_own_class_and_an_expected_one_passes(base_url):
    assert run_one(base_url, name="gone", path="/gone").failure is FailureClass.UNEXPECTED_4XX
    assert run_one(base_url, name="gone", path="/gone", status=[404, 410]).ok


def test_a_missing_or_different_json_field_fails_with_its_path_but_without_values(base_url):
    missing = run_one(base_url, name="f", path="/api/forms", json={"forms.5.id": "x"})
    assert missing.failure is FailureClass.ASSERTION_FAILED and missing.assertion_path == "forms.5.id"
    differs = run_one(base_url, name="f", path="/api/forms", json={"status": "Geheimwert"})
    assert differs.failure is FailureClass.ASSERTION_FAILED and differs.assertion_path == "status"
    assert "Geheimwert" not in differs.message and "ok" not in differs.message.split(":")[-1]


def test_a_body_that_is_not_json_is_an_invalid_response_when_fields_are_asserted(base_url):
    result = run_one(base_url, name="t", path="/text", json={"a": 1})
    assert result.failure is FailureClass.INVALID_RESPONSE and SECRET_IN_BODY not in result.message


def test_a_refused_connection_and_a_timeout_are_told_apart():
    refused = run_one(f"127.0.0.1:{closed_port()}", name="down", path="/api/forms")
    assert refused.failure is FailureClass.CONNECTION_ERROR and refused.status is None


def test_a_slow_answer_is_a_timeout(base_url):
    result = run_one(base_url, name="slow", path="/slow", timeout=0.2)
    assert result.failure is FailureClass.TIMEOUT and "0.2 s" in result.message


def test_cookies_carry_from_login_to_later_steps_like_a_browser(base_url):
    with StepRunner(base_url=base_url, variables=CREDENTIALS) as runner:
        assert runner.run(step(**LOGIN)).ok
        home = runner.run(step(name="home", path="/home", json={"user": "erika"}))
    assert home.ok


def test_a_lost_session_shows_as_redirect_to_login_even_when_redirects_are_followed(base_url):
    plain = run_one(base_url, name="home", path="/home")
    followed = run_one(base_url, name="home", path="/home", follow_redirects=True)
    for result in (plain, followed):
        assert result.failure is FailureClass.REDIRECT_TO_LOGIN and "/login" in result.message


def test_captured_json_values_and_cookies_fill_later_placeholders_with_their_type(base_url):
    steps = [step(**LOGIN),
             step(name="csrf", path="/csrf", capture={"csrf": "cookie:csrftoken"}),
             step(name="save", method="POST", path="/api/drafts", headers={"X-CSRF": "{csrf}"},
                  body={"text": "Antrag {user}", "count": "{n}"}, status=201,
                  capture={"draft_id": "id", "where": "header:location"}),
             step(name="read", path="/api/drafts/{draft_id}", json={"text": "Antrag {user}", "fields.count": "{n}"})]
    with StepRunner(base_url=base_url, variables={**CREDENTIALS, "n": 3}) as runner:
        results = runner.run_all(steps)
        assert {"csrf", "draft_id", "where"} <= runner.known_variables()
    assert [r.ok for r in results] == [True] * 4
    assert results[3].path == "/api/drafts/{draft_id}"  # the template, not the rendered path


def test_a_capture_that_is_not_in_the_response_fails_the_step(base_url):
    result = run_one(base_url, name="f", path="/api/forms", capture={"x": "nope"})
    assert result.failure is FailureClass.CAPTURE_FAILED


def test_run_all_stops_at_the_first_failure_unless_told_otherwise(base_url):
    steps = [step(name="boom", path="/boom"), step(name="forms", path="/api/forms")]
    with StepRunner(base_url=base_url) as runner:
        assert len(runner.run_all(steps)) == 1
        assert [r.ok for r in runner.run_all(steps, stop_at_failure=False)] == [False, True]


def test_a_missing_variable_is_refused_before_any_request_naming_only_the_placeholder():
    with StepRunner(base_url=f"127.0.0.1:{closed_port()}", variables={"user": "erika"}) as runner:
        with pytest.raises(InvalidInput, match=r"\{password\}"):
            runner.run(step(**LOGIN))


def test_step_definitions_are_validated():
    with pytest.raises(ValueError, match="must start with '/'"):
        step(name="x", path="api")
    with pytest.raises(ValueError):
        step(name="x", path="/", method="BREW")
    assert step(name="x", path="/", method="post", status=201).status == (201,)


def test_placeholder_values_cannot_add_path_segments(base_url):
    result = run_one(base_url, {"draft_id": "1/../../api/forms"}, name="read", path="/api/drafts/{draft_id}")
    assert not result.ok and result.status in (302, 404)


def test_dotted_paths_and_typed_rendering():
    document = {"a": {"b": [10, {"c": None}]}}
    assert lookup(document, "a.b.0") == 10 and lookup(document, "a.b.1.c") is None
    assert render_value({"k": "{n}", "s": "n={n}", "l": ["{n}"]}, {"n": 2}) == {"k": 2, "s": "n=2", "l": [2]}
