"""Session probes against the real sessionapp on loopback: every version a real HTTP server, one shared store."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from nahtlos.errors import GateFailed, InvalidInput
from nahtlos.loader import load_application
from nahtlos.probes import (ContinuityReport, ProbeSpec, create_probes, probes_for, replay, require_continuity)

from tests.apps.sessionapp import BEHAVIOUR, build_app
from tests.fixtures.asgi import closed_port, serve_asgi

DESCRIPTOR = "tests/apps/sessionapp.yaml"
BROWSER = load_application(DESCRIPTOR).probes
TOKEN = ProbeSpec.model_validate({
    "variables": {"note": "token note {n} {nonce}"},
    "login": {"name": "get-token", "method": "POST", "path": "/api/token",
              "body": {"user": "{user}", "password": "{password}"}, "capture": {"token": "token"}},
    "enter": {"name": "add-note", "method": "POST", "path": "/api/notes", "headers": {"authorization": "Bearer {token}"},
              "body": {"text": "{note}"}, "status": 201},
    "check": {"name": "read-account", "path": "/api/account", "headers": {"authorization": "Bearer {token}"},
              "json": {"user": "{user}", "notes.0.text": "{note}"}},
})


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Every sessionapp version served at once, sharing one session store (as on the platform)."""
    store = tmp_path_factory.mktemp("sessionapp") / "sessions.sqlite"
    servers, urls = [], {}
    try:
        for version in sorted(BEHAVIOUR):
            servers.append(serve_asgi(build_app(version=version, store_path=store)))
            urls[version] = servers[-1].__enter__()
        yield urls
    finally:
        for server in reversed(servers):
            server.__exit__(None, None, None)


def prove(spec: ProbeSpec, versions: dict[str, str], *, home: str, other: str) -> ContinuityReport:
    """What prove_continuity does, with the addresses given directly."""
    probes = create_probes(spec, on=versions[home], label=home)
    replays = (replay(probes, on=versions[other], label=other), replay(probes, on=versions[home], label=home))
    return ContinuityReport(module="web", stable=home, canary=other, origin="stable", created=probes.created,
                            replays=replays, seconds=0.0)


def test_sessions_of_1_0_0_are_recognised_with_their_data_on_the_compatible_1_1_0_and_back(versions):
    report = prove(BROWSER, versions, home="1.0.0", other="1.1.0")
    assert report.ok and report.failures == 0
    assert report.created.probes == 20 and report.created.recognised == 20
    assert [(r.version, r.recognised, r.probes) for r in report.replays] == [("1.1.0", 20, 20), ("1.0.0", 20, 20)]
    assert report.gate().passed
    assert require_continuity(report) is report


def test_a_version_that_no_longer_reads_the_sessions_fails_every_probe_as_a_redirect_to_login(versions):
    report = prove(BROWSER, versions, home="1.0.0", other="2.0.0")
    canary, stable_again = report.replays
    assert not report.ok and report.failures == 20
    assert canary.recognised == 0 and canary.failure_classes == {"redirect-to-login": 20}
    assert canary.failed_steps == {"read-account": 20} and canary.statuses == {"303": 20}
    assert stable_again.ok  # 2.0.0 only ignores them: the stable version still has them
    assert "2.0.0: 0/20 recognised (20 redirect-to-login at 'read-account')" in report.summary()
    assert report.gate().failures == 20 and report.gate().name == "session-probes-stable"
    with pytest.raises(GateFailed) as failed:
        require_continuity(report)
    assert "20 failure(s)" in str(failed.value) and "2.0.0: 0/20" in str(failed.value)


def test_a_version_that_deletes_unreadable_sessions_is_caught_by_the_replay_on_the_stable_version(versions):
    report = prove(BROWSER, versions, home="1.0.0", other="2.1.0")
    canary, stable_again = report.replays
    assert canary.failure_classes == {"redirect-to-login": 20}
    assert stable_again.version == "1.0.0" and stable_again.failure_classes == {"redirect-to-login": 20}
    assert report.failures == 40


def test_sessions_created_on_a_canary_that_writes_a_new_format_fail_on_the_stable_version(versions):
    old_sessions = prove(BROWSER, versions, home="1.0.0", other="1.2.0")
    assert old_sessions.ok  # 1.2.0 reads what 1.0.0 wrote
    probes = create_probes(BROWSER, on=versions["1.2.0"], label="1.2.0")
    on_stable = replay(probes, on=versions["1.0.0"], label="1.0.0")
    assert probes.created.ok and on_stable.recognised == 0 and on_stable.failure_classes == {"redirect-to-login": 20}


def test_token_sessions_carry_the_captured_bearer_token_and_an_unknown_token_is_an_unexpected_401(versions):
    assert prove(TOKEN, versions, home="1.0.0", other="1.1.0").ok
    report = prove(TOKEN, versions, home="1.0.0", other="2.0.0")
    canary = report.replays[0]
    assert canary.failure_classes == {"4xx-unexpected": 20} and canary.statuses == {"401": 20}
    assert canary.messages == ("step 'read-account' (GET /api/account): expected status 200, got 401",)


def test_a_probe_session_is_replayed_on_another_host_name_like_a_kubernetes_service(versions):
    probes = create_probes(BROWSER, on=versions["1.0.0"], label="1.0.0")
    other_host = versions["1.1.0"].replace("127.0.0.1", "localhost")
    assert replay(probes, on=other_host, label="1.1.0").recognised == 20


def test_reports_and_errors_hold_counts_but_no_user_cookie_token_or_entered_data(versions, capsys):
    for spec in (BROWSER, TOKEN):
        probes = create_probes(spec, on=versions["1.0.0"], label="1.0.0")
        report = ContinuityReport(module="web", stable="1.0.0", canary="2.0.0", origin="stable",
                                  created=probes.created, replays=(replay(probes, on=versions["2.0.0"], label="2.0.0"),),
                                  seconds=0.0)
        secrets_ = {v for s in probes.sessions for v in s._variables.values() if isinstance(v, str) and len(v) > 3}
        secrets_ |= {c.value for s in probes.sessions for c in s._cookies}
        assert len(secrets_) >= 60  # user, note, password (and token) of 20 probes
        with pytest.raises(GateFailed) as failed:
            require_continuity(report)
        texts = [report.model_dump_json(), report.summary(), report.markdown(), str(failed.value), repr(probes),
                 repr(probes.sessions[0]), capsys.readouterr().out]
        assert not [s for s in secrets_ if any(s in text for text in texts)]
        assert "probe note" not in " ".join(texts) and "probe-" not in " ".join(texts)


def test_probe_sessions_refuse_to_be_serialized(versions):
    probes = create_probes(BROWSER, on=versions["1.0.0"], label="1.0.0")
    for thing in (probes, probes.sessions[0]):
        with pytest.raises(TypeError, match="never serialized"):
            pickle.dumps(thing)
    assert repr(probes) == "<ProbeSet of 20 sessions created on 1.0.0>"


def test_a_probe_that_fails_on_its_own_version_is_a_failed_creation_and_nothing_is_replayed(versions):
    wrong = BROWSER.model_copy(update={"check": (BROWSER.check[0].model_copy(update={"expect_json": {"user": "x"}}),)})
    probes = create_probes(wrong, on=versions["1.0.0"], label="1.0.0")
    assert len(probes) == 0 and probes.created.failure_classes == {"assertion-failed": 20}
    assert probes.created.summary() == "1.0.0: 0/20 created (20 assertion-failed at 'read-account')"


def test_an_unreachable_version_fails_every_probe_as_a_connection_error(versions):
    probes = create_probes(BROWSER, on=versions["1.0.0"], label="1.0.0")
    down = replay(probes, on=f"127.0.0.1:{closed_port()}", label="1.1.0")
    assert down.recognised == 0 and down.failure_classes == {"connection-error": 20} and down.statuses == {"none": 20}


def test_the_probe_password_comes_from_the_named_environment_variable(versions, monkeypatch):
    spec = BROWSER.model_copy(update={"password_env": "SESSIONAPP_PROBE_PASSWORD"})
    monkeypatch.delenv("SESSIONAPP_PROBE_PASSWORD", raising=False)
    with pytest.raises(InvalidInput, match="SESSIONAPP_PROBE_PASSWORD is not set"):
        create_probes(spec, on=versions["1.0.0"], label="1.0.0")
    monkeypatch.setenv("SESSIONAPP_PROBE_PASSWORD", "s3cret-probe-pw")
    probes = create_probes(spec, on=versions["1.0.0"], label="1.0.0")
    assert probes.created.ok and {s._variables["password"] for s in probes.sessions} == {"s3cret-probe-pw"}


def spec_with(**changes) -> dict:
    fields = {"login": {"name": "log-in", "method": "POST", "path": "/login", "form": {"user": "{user}"}},
              "check": [{"name": "read", "path": "/account"}]}
    return {**fields, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"count": 5}, "greater than or equal to 20"),
    ({"check": [{"name": "read", "path": "/x/{draft}"}]}, "'read' uses ['draft']"),
    ({"check": [{"name": "log-in", "path": "/account"}]}, "unique across login, enter and check: log-in"),
    ({"variables": {"user": "x"}}, "identifier other than"),
    ({"variables": {"note": "{token}"}}, "generated values only"),
    ({"user": "{password}"}, "user may use"),
    ({"check": []}, "at least 1 item"),
])
def test_a_probe_descriptor_that_cannot_work_is_refused_at_load(changes, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ProbeSpec.model_validate(spec_with(**changes))


def test_values_captured_at_login_may_be_used_by_later_steps_and_one_step_needs_no_list():
    spec = ProbeSpec.model_validate(spec_with(login={"name": "t", "method": "POST", "path": "/t",
                                                     "capture": {"token": "token"}},
                                              check={"name": "read", "path": "/a", "headers": {"x": "{token}"}}))
    assert [s.name for s in spec.all_steps] == ["t", "read"] and spec.count == 20


def test_probes_address_the_entry_module_unless_they_name_another():
    app = load_application(DESCRIPTOR)
    assert probes_for(app, "web") is app.probes
    assert probes_for(app, "another-module") is None  # its canaries are not where the sessions live
    bad = app.model_copy(update={"probes": app.probes.model_copy(update={"module": "nope"})})
    with pytest.raises(InvalidInput, match="'nope' is not one of the modules"):
        probes_for(bad, "web")
    assert probes_for(app.model_copy(update={"probes": None}), "web") is None

