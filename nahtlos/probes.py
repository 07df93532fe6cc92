"""Session probes: prove by behaviour that user sessions survive a release.

Most applications keep their sessions in a store and a format nahtlos cannot read
(Spring, Django, PHP, vendor software). A release that can no longer read the old
sessions logs every user out without a single 5xx. So before any user is moved,
nahtlos logs in generated probe users on one version, enters data, and replays each
probe session against the other version *directly* (its own address, bypassing
weights and pins): the session must be recognised and the data intact.

    probes:
      module: web                 # whose versions are probed; default: the entry module
      count: 20                   # probe sessions per run (at least 20)
      user: "nahtlos-probe-{run}-{n}"
      variables: {note: "probe note {n} {nonce}"}
      login:
        - {name: log-in, method: POST, path: /login, form: {user: "{user}", password: "{password}"}, status: 303}
      enter:
        - {name: add-note, method: POST, path: /notes, form: {text: "{note}"}, status: 201}
      check:
        - {name: read-account, path: /account, json: {user: "{user}", "notes.0.text": "{note}"}}

Generated per probe: ``{n}`` (1..count), ``{run}`` (one random id per probe set),
``{nonce}`` (random per probe), ``{user}`` and ``{password}`` (random, or read from
the environment variable ``password_env``), plus the ``variables`` templates over them.
Steps may capture values (a bearer token) for later steps, as in ``nahtlos.httpsteps``.

A probe session (cookies and captured values) lives in this process only: it is never
serialized, logged or reported. Each replay starts from the state the session had right
after it was created, on a fresh client, so one version's answer (a deleted cookie) does
not decide the next replay; what one version does to the shared store does. Reports count
probes per version and per failure class, never contents.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import Cookie
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from nahtlos.analysis.models import GateCheck
from nahtlos.errors import GateFailed, InvalidInput
from nahtlos.httpsteps import PLACEHOLDER, Frozen, HttpStep, StepResult, StepRunner, render_text
from nahtlos.platforms.base import Platform
from nahtlos.smoke import version_base_url

if TYPE_CHECKING:
    from nahtlos.descriptor import Application

GENERATED = frozenset({"n", "run", "nonce", "user", "password"})
MESSAGES_KEPT = 3  # distinct failure messages per report (they name steps and statuses only)


class ProbeSpec(Frozen):
    """The descriptor's ``probes:`` section: how to create a session and how to check it."""

    module: str | None = None  # default: the application's entry module
    count: int = Field(20, ge=20, le=1000)
    user: str = "nahtlos-probe-{run}-{n}"
    password_env: str | None = None  # environment variable with the probe accounts' password
    variables: dict[str, str] = Field(default_factory=dict)  # name -> template over the generated values
    login: tuple[HttpStep, ...] = Field(min_length=1)
    enter: tuple[HttpStep, ...] = ()
    check: tuple[HttpStep, ...] = Field(min_length=1)  # replayed on every version: should only read
    login_paths: tuple[str, ...] = ("/login",)  # a redirect there means "not recognised"
    timeout: float = Field(10.0, gt=0)  # seconds per request
    parallel: int = Field(4, ge=1, le=32)  # probe sessions played at once

    @field_validator("login", "enter", "check", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value  # a single step may stand without a list

    @field_validator("user")
    @classmethod
    def _user_template(cls, value: str) -> str:
        unknown = sorted(set(PLACEHOLDER.findall(value)) - {"n", "run", "nonce"})
        if unknown:
            raise ValueError(f"user may use {{n}}, {{run}} and {{nonce}} only, not {unknown}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ProbeSpec":
        for name, template in self.variables.items():
            if not PLACEHOLDER.fullmatch("{" + name + "}") or name in GENERATED:
                raise ValueError(f"variable {name!r} must be an identifier other than {sorted(GENERATED)}")
            unknown = sorted(set(PLACEHOLDER.findall(template)) - GENERATED)
            if unknown:
                raise ValueError(f"variable {name!r} may use the generated values only, not {unknown}")
        steps = self.all_steps
        names = [s.name for s in steps]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"step names must be unique across login, enter and check: {', '.join(repeated)}")
        known = set(GENERATED) | set(self.variables)
        for step in steps:
            missing = sorted(step.placeholders() - known)
            if missing:
                raise ValueError(f"step {step.name!r} uses {missing}: neither generated, a variable, "
                                 "nor captured by an earlier step")
            known |= set(step.capture)
        return self

    @property
    def all_steps(self) -> tuple[HttpStep, ...]:
        return (*self.login, *self.enter, *self.check)


class ProbeReport(Frozen):
    """One version's answers to a set of probe sessions: counts only."""

    version: str
    phase: Literal["create", "replay"]
    probes: int
    recognised: int  # every step passed: logged in (create) or session and data intact (replay)
    failure_classes: dict[str, int] = Field(default_factory=dict)  # failure class -> probes
    failed_steps: dict[str, int] = Field(default_factory=dict)  # step name -> probes that failed there
    statuses: dict[str, int] = Field(default_factory=dict)  # HTTP status of the failed step ("none") -> probes
    messages: tuple[str, ...] = ()  # a few distinct failure messages (step, statuses; never bodies)
    seconds: float

    @property
    def failed(self) -> int:
        return self.probes - self.recognised

    @property
    def ok(self) -> bool:
        return self.probes > 0 and self.failed == 0

    def summary(self) -> str:
        verb = "created" if self.phase == "create" else "recognised"
        text = f"{self.version}: {self.recognised}/{self.probes} {verb}"
        if self.failed:
            steps = ", ".join(f"{name!r}" for name in sorted(self.failed_steps))
            text += f" ({_counts(self.failure_classes)} at {steps})"
        return text


class ContinuityReport(Frozen):
    """Probe sessions created on one version, replayed directly on the versions that share their store."""

    module: str
    stable: str
    canary: str
    origin: Literal["stable", "canary"]  # where the probe sessions were created
    created: ProbeReport
    replays: tuple[ProbeReport, ...]
    seconds: float

    @property
    def failures(self) -> int:
        return self.created.failed + sum(r.failed for r in self.replays)

    @property
    def ok(self) -> bool:
        return self.created.ok and all(r.ok for r in self.replays)

    def summary(self) -> str:
        replays = "; ".join(r.summary() for r in self.replays) or "no replay"
        return f"{self.origin} sessions: {self.created.summary()}; replayed directly on {replays}"

    def gate(self) -> GateCheck:
        return GateCheck(name=f"session-probes-{self.origin}", failures=self.failures, detail=self.summary())

    def markdown(self) -> str:
        rows = [f"| {r.phase} | {r.version} | {r.recognised}/{r.probes} | {_counts(r.failure_classes)} | "
                f"{_counts(r.statuses)} | {', '.join(sorted(r.failed_steps)) or '-'} | {r.seconds:.2f} |"
                for r in (self.created, *self.replays)]
        verdict = "passed" if self.ok else "FAILED"
        return "\n".join([f"### Session probes {self.module} ({self.origin} sessions): {verdict}", "",
                          "| phase | version | recognised | failure classes | statuses | failed steps | seconds |",
                          "|---|---|---|---|---|---|---|", *rows])


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "-"


class ProbeSession:
    """One probe user's browser state (cookies, captured values): in this process only."""

    __slots__ = ("number", "_cookies", "_variables")

    def __init__(self, number: int, cookies: list[Cookie], variables: dict[str, Any]) -> None:
        self.number, self._cookies, self._variables = number, cookies, variables

    def __repr__(self) -> str:
        return f"<probe session {self.number}>"

    def __reduce__(self) -> Any:
        raise TypeError("probe sessions hold live credentials and are never serialized")


class ProbeSet:
    """Probe sessions created on one version, ready to be replayed elsewhere."""

    def __init__(self, spec: ProbeSpec, *, created: ProbeReport, sessions: list[ProbeSession]) -> None:
        self.spec, self.created, self.sessions = spec, created, sessions

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        return f"<ProbeSet of {len(self.sessions)} sessions created on {self.created.version}>"

    def __reduce__(self) -> Any:
        raise TypeError("probe sessions hold live credentials and are never serialized")


class _ProbeRunner(StepRunner):
    """A step runner whose browser state can be saved and put into another runner, on another host."""

    def saved(self, number: int) -> ProbeSession:
        return ProbeSession(number, list(self._client.cookies.jar), dict(self._variables))

    def restore(self, session: ProbeSession) -> None:
        self._variables = dict(session._variables)
        host = httpx.URL(self.base_url).host
        for cookie in session._cookies:  # the replay address may be another host (a Kubernetes service)
            self._client.cookies.jar.set_cookie(_rehomed(cookie, host))


def _rehomed(cookie: Cookie, host: str) -> Cookie:
    """The cookie as the browser would send it to ``host`` (host-only, also over plain HTTP)."""
    domain = host if "." in host else host + ".local"  # http.cookiejar's effective host name
    return Cookie(version=0, name=cookie.name, value=cookie.value, port=None, port_specified=False, domain=domain,
                  domain_specified=False, domain_initial_dot=False, path=cookie.path or "/", path_specified=True,
                  secure=False, expires=None, discard=True, comment=None, comment_url=None, rest={})


class _SharedTransport(httpx.BaseTransport):
    """One connection pool for every probe of a run (a client each would build a TLS context each)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:  # a probe's client closing must not close the others' pool
        pass


def create_probes(spec: ProbeSpec, *, on: str, label: str) -> ProbeSet:
    """Log in ``spec.count`` generated users on ``on`` (a version's direct address) and enter their data.

    Each probe also runs the check steps here, so a probe that fails later failed because of
    the other version, not because the probe itself is wrong.
    """
    password = _password(spec)
    run = secrets.token_hex(3)

    def one(pool: _SharedTransport, number: int) -> tuple[list[StepResult], ProbeSession | None]:
        variables = _generated(spec, run=run, number=number, password=password)
        with _runner(spec, on, variables, pool) as runner:
            results = runner.run_all(spec.all_steps)
            return results, runner.saved(number) if results[-1].ok and len(results) == len(spec.all_steps) else None

    outcomes, seconds = _each(spec, range(1, spec.count + 1), one)
    sessions = [session for _, session in outcomes if session is not None]
    created = _report(label, "create", [results for results, _ in outcomes], len(spec.all_steps), seconds)
    return ProbeSet(spec, created=created, sessions=sessions)


def replay(probes: ProbeSet, *, on: str, label: str) -> ProbeReport:
    """Play every probe session's check steps on ``on``; each must be recognised with its data intact."""
    spec = probes.spec

    def one(pool: _SharedTransport, session: ProbeSession) -> list[StepResult]:
        with _runner(spec, on, {}, pool) as runner:
            runner.restore(session)
            return runner.run_all(spec.check)

    outcomes, seconds = _each(spec, probes.sessions, one)
    return _report(label, "replay", outcomes, len(spec.check), seconds)


def prove_continuity(platform: Platform, app: "Application", *, module: str, stable: str,
                     canary: str) -> ContinuityReport | None:
    """Sessions of the stable version must work on the canary, and on the stable version again
    after that (both share the store while they run side by side). None: nothing to probe."""
    spec = probes_for(app, module)
    if spec is None:
        return None
    return _prove(platform, spec, module=module, stable=stable, canary=canary, origin="stable")


def prove_canary_sessions(platform: Platform, app: "Application", *, module: str, stable: str,
                          canary: str) -> ContinuityReport | None:
    """Sessions created on the canary must work on the stable version (a rollback moves those
    users back), and on the canary again. None: nothing to probe."""
    spec = probes_for(app, module)
    if spec is None:
        return None
    return _prove(platform, spec, module=module, stable=stable, canary=canary, origin="canary")


def require_continuity(report: ContinuityReport | None) -> ContinuityReport | None:
    """The hard gate: any probe that was not created or not recognised stops the release."""
    if report is not None and not report.ok:
        lost = ("sessions of the stable version would be lost on the canary" if report.origin == "stable"
                else "sessions begun on the canary would be lost by a rollback")
        raise GateFailed(f"session probes failed, {report.failures} failure(s): {report.summary()}",
                         subject=f"module {report.module}",
                         hint=f"{lost}; the release stops before promotion, users pinned to "
                              f"{report.stable} stay there")
    return report


def probes_for(app: "Application", module: str) -> ProbeSpec | None:
    """The application's probes when they address ``module``'s versions."""
    spec = app.probes
    if spec is None:
        return None
    probed = spec.module or app.entry
    if probed is None:
        raise InvalidInput("probes need a module: set probes.module or the application's entry",
                           subject=f"application {app.name}")
    if probed not in app.modules:
        raise InvalidInput(f"probes.module {probed!r} is not one of the modules", subject=f"application {app.name}")
    return spec if probed == module else None


def _prove(platform: Platform, spec: ProbeSpec, *, module: str, stable: str, canary: str,
           origin: Literal["stable", "canary"]) -> ContinuityReport:
    started = time.monotonic()
    status = platform.status()
    address = {v: version_base_url(status, module=module, version=v) for v in (stable, canary)}
    home, other = (stable, canary) if origin == "stable" else (canary, stable)
    probes = create_probes(spec, on=address[home], label=home)
    replays = (replay(probes, on=address[other], label=other),
               replay(probes, on=address[home], label=home)) if probes.sessions else ()
    return ContinuityReport(module=module, stable=stable, canary=canary, origin=origin, created=probes.created,
                            replays=replays, seconds=round(time.monotonic() - started, 3))


def _password(spec: ProbeSpec) -> str | None:
    if spec.password_env is None:
        return None
    value = os.environ.get(spec.password_env)
    if not value:
        raise InvalidInput(f"environment variable {spec.password_env} is not set", subject="probes.password_env",
                           hint="set it to the probe accounts' password where the release runs")
    return value


def _generated(spec: ProbeSpec, *, run: str, number: int, password: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {"n": number, "run": run, "nonce": secrets.token_hex(4)}
    values["user"] = render_text(spec.user, values)
    values["password"] = password or secrets.token_urlsafe(12)
    values.update({name: render_text(template, values) for name, template in spec.variables.items()})
    return values


def _runner(spec: ProbeSpec, base_url: str, variables: dict[str, Any], pool: _SharedTransport) -> _ProbeRunner:
    return _ProbeRunner(base_url=base_url, variables=variables, timeout=spec.timeout, login_paths=spec.login_paths,
                        transport=pool)


def _each(spec: ProbeSpec, items: Sequence[Any] | range, play: Callable[[_SharedTransport, Any], Any]
          ) -> tuple[list[Any], float]:
    started = time.monotonic()
    pool = _SharedTransport()
    try:
        with ThreadPoolExecutor(max_workers=spec.parallel, thread_name_prefix="probe") as workers:
            outcomes = list(workers.map(lambda item: play(pool, item), items))
    finally:
        pool.inner.close()
    return outcomes, time.monotonic() - started


def _report(label: str, phase: Literal["create", "replay"], outcomes: list[list[StepResult]], steps: int,
            seconds: float) -> ProbeReport:
    classes, failed_at, statuses, messages = Counter[str](), Counter[str](), Counter[str](), []
    recognised = 0
    for results in outcomes:
        failure = next((r for r in results if not r.ok), None)
        if failure is None and len(results) == steps:
            recognised += 1
            continue
        if failure is not None:
            classes[failure.failure.value] += 1
            failed_at[failure.step] += 1
            statuses[str(failure.status) if failure.status is not None else "none"] += 1
            if failure.message not in messages and len(messages) < MESSAGES_KEPT:
                messages.append(failure.message)
    return ProbeReport(version=label, phase=phase, probes=len(outcomes), recognised=recognised,
                       failure_classes=dict(classes), failed_steps=dict(failed_at), statuses=dict(statuses),
                       messages=tuple(messages),
                       seconds=round(seconds, 3))
