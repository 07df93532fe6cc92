"""Every API failure lands in the intended nahtlos error, keeps the object and the reason,
and never echoes more than a bounded part of the response."""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes.client.rest import ApiException

from nahtlos.errors import AccessDenied, Conflict, ObjectRejected, PlatformError, PlatformUnreachable, UnknownObject
from nahtlos.platforms.kubernetes.api_errors import call, map_api_error


def api_exception(status: int, message: str = "the reason") -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message})
    return exc


@pytest.mark.parametrize(("status", "error", "transient"), [
    (401, AccessDenied, False), (403, AccessDenied, False), (400, ObjectRejected, False),
    (422, ObjectRejected, False), (404, UnknownObject, False), (409, Conflict, True),
    (429, PlatformUnreachable, True), (500, PlatformUnreachable, True), (503, PlatformUnreachable, True),
    (418, PlatformError, False),
])
def test_each_status_maps_to_its_error_with_object_and_reason(status, error, transient):
    mapped = map_api_error(api_exception(status), subject="Deployment shop/front-1-0-0", action="create Deployment")

    assert type(mapped) is error
    assert mapped.transient is transient
    assert mapped.subject == "Deployment shop/front-1-0-0"
    assert "the reason" in str(mapped) and "create Deployment" in str(mapped)


def test_long_reasons_are_truncated():
    mapped = map_api_error(api_exception(422, "x" * 5000), subject="HTTPRoute a/b", action="update HTTPRoute")

    assert len(str(mapped)) < 600


def test_connection_failures_are_retried_then_reported_as_unreachable(monkeypatch):
    monkeypatch.setattr("nahtlos.platforms.kubernetes.api_errors.time.sleep", lambda seconds: None)
    attempts = []

    def refused():
        attempts.append(1)
        raise urllib3.exceptions.MaxRetryError(None, "/api", "connection refused")

    with pytest.raises(PlatformUnreachable) as unreachable:
        call(refused, subject="Service shop/front", action="read Service", attempts=4)

    assert len(attempts) == 4 and unreachable.value.transient
    assert isinstance(unreachable.value.__cause__, urllib3.exceptions.MaxRetryError)


def test_a_transient_failure_followed_by_success_returns_the_result(monkeypatch):
    monkeypatch.setattr("nahtlos.platforms.kubernetes.api_errors.time.sleep", lambda seconds: None)
    answers = [api_exception(503), api_exception(429), "ok"]

    def flaky():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call(flaky, subject="x", action="y") == "ok"


def test_permanent_failures_are_not_retried():
    attempts = []

    def forbidden():
        attempts.append(1)
        raise api_exception(403)

    with pytest.raises(AccessDenied):
        call(forbidden, subject="x", action="y")
    assert len(attempts) == 1
