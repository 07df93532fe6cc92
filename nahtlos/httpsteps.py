"""HTTP steps: one request with its expectations, and a runner that plays them like a browser.

A step names a request (method, path, headers, a form or JSON body), what the answer must be
(status, JSON fields by dotted path) and which values to keep for later steps (``capture``).
Strings may hold placeholders such as ``{user}`` or ``{draft_id}``; they come from the caller's
variables or from values captured by earlier steps. A value that is exactly one placeholder
(``"{count}"``) keeps the captured value's JSON type.

The runner keeps one cookie jar per journey, so a login cookie set by one step goes with the
next ones, across ports of the same host as in a browser. Every failure gets a class
(``FailureClass``) and a message that names the step, the expected and actual status and the
assertion path only: responses and submitted values can hold citizens' data and never appear
in results, messages or logs. For the same reason a result shows the path template, not the
rendered path.

Used by smoke checks and journeys (``nahtlos.smoke``) and by session probes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nahtlos.errors import InvalidInput

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
USER_AGENT = "nahtlos-steps/1"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class HttpStep(Frozen):
    """One request and what its response must look like."""

    name: str = Field(min_length=1)
    method: Method = "GET"
    path: str  # relative to the target's base URL, e.g. /api/forms/{draft_id}
    headers: dict[str, str] = Field(default_factory=dict)
    form: dict[str, str] | None = None  # sent as application/x-www-form-urlencoded
    body: Any = None  # sent as JSON
    status: tuple[int, ...] = (200,)  # any of these is fine
    expect_json: dict[str, Any] = Field(default_factory=dict, alias="json")  # dotted path -> value
    capture: dict[str, str] = Field(default_factory=dict)  # variable -> dotted path | header:X | cookie:X
    follow_redirects: bool = False
    timeout: float | None = Field(default=None, gt=0)  # seconds; default: the runner's

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("status", mode="before")
    @classmethod
    def _status_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/', it is relative to the target's base URL")
        return value

    @field_validator("capture")
    @classmethod
    def _capture_names(cls, value: dict[str, str]) -> dict[str, str]:
        for variable, source in value.items():
            if not PLACEHOLDER.fullmatch("{" + variable + "}"):
                raise ValueError(f"capture name {variable!r} must be an identifier (letters, digits, _)")
            if not source:
                raise ValueError(f"capture {variable!r} needs a source: a JSON path, header:NAME or cookie:NAME")
        return value

    def placeholders(self) -> set[str]:
        """Variable names this step needs before it can run."""
        found: set[str] = set()
        for text in _strings(self.path, self.headers, self.form, self.body, self.expect_json):
            found.update(PLACEHOLDER.findall(text))
        return found


class FailureClass(StrEnum):
    SERVER_ERROR = "5xx"
    UNEXPECTED_4XX = "4xx-unexpected"
    UNEXPECTED_STATUS = "unexpected-status"  # a 1xx/2xx/3xx that was not expected
    REDIRECT_TO_LOGIN = "redirect-to-login"  # the session was not accepted
    CONNECTION_ERROR = "connection-error"
    TIMEOUT = "timeout"
    ASSERTION_FAILED = "assertion-failed"  # a JSON field is missing or differs
    INVALID_RESPONSE = "invalid-response"  # JSON needed but the body is not JSON
    CAPTURE_FAILED = "capture-failed"  # a value to keep was not in the response


class StepResult(Frozen):
    step: str
    method: str
    path: str  # the template: rendered paths can carry user data
    ok: bool
    status: int | None = None  # None when no response arrived
    expected_status: tuple[int, ...]
    failure: FailureClass | None = None
    message: str | None = None  # never holds response bodies or submitted values
    assertion_path: str | None = None
    elapsed_seconds: float


class StepRunner:
    """Plays steps against a base URL with one cookie jar, like one browser tab.

    Captured values live in this object only (they may be session tokens): they are never
    part of a result. Change ``base_url`` between steps to move the same browser to another
    address (a direct version address, then the public entry).
    """

    def __init__(self, *, base_url: str, variables: Mapping[str, Any] | None = None, timeout: float = 10.0,
                 login_paths: Sequence[str] = ("/login",), transport: httpx.BaseTransport | None = None) -> None:
        self._variables: dict[str, Any] = dict(variables or {})
        self._timeout = timeout
        self._login_paths = tuple(login_paths)
        self._client = httpx.Client(base_url=normalize_base_url(base_url), transport=transport,
                                    headers={"user-agent": USER_AGENT}, timeout=timeout)

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._client.base_url = normalize_base_url(value)

    def known_variables(self) -> set[str]:
        return set(self._variables)

    def clear_cookies(self) -> None:
        self._client.cookies.clear()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "StepRunner":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run(self, step: HttpStep) -> StepResult:
        """Send one step and judge its response. Raises InvalidInput for a missing variable."""
        require_variables([step], provided=self._variables)
        started = time.monotonic()
        outcome = _Outcome(step)
        try:
            response = self._client.request(
                step.method, render_path(step.path, self._variables),
                headers={k: render_text(v, self._variables) for k, v in step.headers.items()},
                data=render_value(step.form, self._variables) if step.form is not None else None,
                json=render_value(step.body, self._variables) if step.body is not None else None,
                follow_redirects=step.follow_redirects,
                timeout=step.timeout or self._timeout)
        except httpx.TimeoutException as exc:
            timeout = step.timeout or self._timeout
            outcome.fail(FailureClass.TIMEOUT, f"no response within {timeout:g} s ({type(exc).__name__})")
        except httpx.TransportError as exc:  # refused, reset, protocol errors: the exception text holds the URL
            outcome.fail(FailureClass.CONNECTION_ERROR, f"connection failed ({type(exc).__name__})")
        else:
            outcome.status = response.status_code
            self._judge(step, response, outcome)
        return outcome.result(elapsed=time.monotonic() - started)

    def run_all(self, steps: Iterable[HttpStep], *, stop_at_failure: bool = True) -> list[StepResult]:
        results = []
        for step in steps:
            results.append(self.run(step))
            if stop_at_failure and not results[-1].ok:
                break
        return results

    def _judge(self, step: HttpStep, response: httpx.Response, outcome: "_Outcome") -> None:
        login = self._login_redirect(step, response)
        if login is not None:
            outcome.fail(FailureClass.REDIRECT_TO_LOGIN,
                         f"redirected to the login page ({login}) instead of status {_statuses(step.status)}")
            return
        if response.status_code not in step.status:
            outcome.fail(_status_class(response.status_code),
                         f"expected status {_statuses(step.status)}, got {response.status_code}")
            return
        needs_json = bool(step.expect_json) or any(not s.startswith(("header:", "cookie:"))
                                                   for s in step.capture.values())
        document: Any = None
        if needs_json:
            try:
                document = response.json()
            except ValueError:
                outcome.fail(FailureClass.INVALID_RESPONSE, "the response body is not JSON")
                return
        for path, expected in step.expect_json.items():
            actual = lookup(document, path)
            if actual is _MISSING:
                outcome.fail(FailureClass.ASSERTION_FAILED, f"JSON field {path!r} is missing", path)
                return
            if actual != render_value(expected, self._variables):
                outcome.fail(FailureClass.ASSERTION_FAILED, f"JSON field {path!r} differs from the expected value", path)
                return
        captured = {}
        for variable, source in step.capture.items():
            value = _capture(source, response, document)
            if value is _MISSING:
                outcome.fail(FailureClass.CAPTURE_FAILED, f"cannot capture {variable!r}: {source!r} is not in the response",
                             source)
                return
            captured[variable] = value
        self._variables.update(captured)

    def _login_redirect(self, step: HttpStep, response: httpx.Response) -> str | None:
        """The login path the request was sent to instead of the expected answer, if any."""
        if any(300 <= code < 400 for code in step.status) or _is_login(step.path, self._login_paths):
            return None
        hops = [*response.history, response]
        for hop in hops:
            if hop.is_redirect:
                target = _is_login(urlsplit(hop.headers.get("location", "")).path, self._login_paths)
                if target:
                    return target
        return None


class _Outcome:
    """Collects a step's verdict while it is being judged."""

    def __init__(self, step: HttpStep) -> None:
        self.step = step
        self.status: int | None = None
        self.failure: FailureClass | None = None
        self.message: str | None = None
        self.path: str | None = None

    def fail(self, failure: FailureClass, message: str, path: str | None = None) -> None:
        self.failure, self.path = failure, path
        self.message = f"step {self.step.name!r} ({self.step.method} {self.step.path}): {message}"

    def result(self, *, elapsed: float) -> StepResult:
        return StepResult(step=self.step.name, method=self.step.method, path=self.step.path,
                          ok=self.failure is None, status=self.status, expected_status=self.step.status,
                          failure=self.failure, message=self.message, assertion_path=self.path,
                          elapsed_seconds=round(elapsed, 6))


def require_variables(steps: Iterable[HttpStep], *, provided: Iterable[str]) -> None:
    """Refuse to start when a step needs a variable nobody supplies or captures before it."""
    known = set(provided)
    for step in steps:
        missing = sorted(step.placeholders() - known)
        if missing:
            names = ", ".join("{" + m + "}" for m in missing)
            raise InvalidInput(f"placeholder {names} has no value", subject=f"step {step.name!r}",
                               hint="pass it as a variable or capture it in an earlier step")
        known.update(step.capture)


def normalize_base_url(address: str) -> str:
    """Accept ``host:port`` as well as a URL; platforms report either."""
    return address if "://" in address else f"http://{address}"


def render_text(template: str, variables: Mapping[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), template)


def render_path(template: str, variables: Mapping[str, Any]) -> str:
    """Like render_text, but a value cannot add path segments or a query (it is percent-encoded)."""
    return PLACEHOLDER.sub(lambda m: quote(str(variables[m.group(1)]), safe=""), template)


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render placeholders inside a JSON-like value; ``"{x}"`` alone keeps x's type."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        return variables[whole.group(1)] if whole else render_text(value, variables)
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(v, variables) for v in value]
    return value


_MISSING = object()


def lookup(document: Any, path: str) -> Any:
    """Follow a dotted path (``items.0.id``) through dicts and lists; _MISSING if absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _capture(source: str, response: httpx.Response, document: Any) -> Any:
    kind, _, name = source.partition(":")
    if kind == "header" and name:
        return response.headers.get(name, _MISSING)
    if kind == "cookie" and name:
        return response.cookies.get(name, _MISSING)
    return lookup(document, source)


def _status_class(code: int) -> FailureClass:
    if code >= 500:
        return FailureClass.SERVER_ERROR
    if code >= 400:
        return FailureClass.UNEXPECTED_4XX
    return FailureClass.UNEXPECTED_STATUS


def _is_login(path: str, login_paths: Sequence[str]) -> str | None:
    for login in login_paths:
        if path == login or path.startswith(login.rstrip("/") + "/"):
            return login
    return None


def _statuses(codes: Sequence[int]) -> str:
    return " or ".join(str(c) for c in codes)


def _strings(*values: Any) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from _strings(*value.values())
        elif isinstance(value, (list, tuple)):
            yield from _strings(*value)
