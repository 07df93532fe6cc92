"""Smoke checks and user journeys from the descriptor.

A module's ``smoke:`` list holds independent checks, run against one version's direct address
(bypassing the weights, before a canary gets traffic) or through the public entry (after a
wave). An application's ``journeys:`` are step lists that share one cookie jar, like a citizen
in a browser: log in, fill a form, save a draft, read it back. A journey may name a
``checkpoint``: run up to it before the release, ``resume`` after it, and the same session must
still work on the new version.

    modules:
      forms:
        smoke:
          - {name: forms-health, path: /api/forms, status: 200, json: {status: ok}}
    journeys:
      draft-survives:
        checkpoint: save-draft
        steps:
          - {name: login, method: POST, path: /login, form: {user: "{user}", password: "{password}"}, status: [200, 303]}
          - {name: save-draft, method: POST, path: /api/drafts, body: {text: "{draft_text}"}, status: 201,
             capture: {draft_id: id}}
          - {name: read-back, path: "/api/drafts/{draft_id}", json: {text: "{draft_text}"}}

Reports count passes and failures per failure class and never hold response bodies or the
values that were sent (see ``nahtlos.httpsteps``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import Field, model_validator

from nahtlos.analysis.models import GateCheck
from nahtlos.errors import PlatformError, UnknownObject
from nahtlos.httpsteps import HttpStep, StepResult, StepRunner, Frozen, require_variables
from nahtlos.platforms.base import PlatformStatus


class SmokeCheck(HttpStep):
    """One independent check of a module's ``smoke:`` list (a step run with a fresh cookie jar)."""


class Journey(Frozen):
    """Steps that share one cookie jar and pass captured values on, in order."""

    steps: tuple[HttpStep, ...] = Field(min_length=1)
    checkpoint: str | None = None  # step after which a journey run across a release pauses

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"steps": value} if isinstance(value, (list, tuple)) else value

    @model_validator(mode="after")
    def _consistent(self) -> "Journey":
        names = [step.name for step in self.steps]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"step names must be unique, repeated: {', '.join(duplicates)}")
        if self.checkpoint is not None and self.checkpoint not in names[:-1]:
            raise ValueError(f"checkpoint {self.checkpoint!r} must name a step other than the last")
        for index, step in enumerate(self.steps):
            late = sorted(step.placeholders() & {v for later in self.steps[index:] for v in later.capture})
            if late:
                raise ValueError(f"step {step.name!r} uses {', '.join(late)} before a step captures it")
        return self

    def required_variables(self) -> set[str]:
        """Variables the caller must supply (credentials, test data): used but never captured."""
        captured = {v for step in self.steps for v in step.capture}
        return {v for step in self.steps for v in step.placeholders()} - captured


class SmokeReport(Frozen):
    target: str  # e.g. "forms 2.0.0 (direct)" or "entry"
    base_url: str
    results: tuple[StepResult, ...]
    passed: int
    failed: int
    failure_classes: dict[str, int]  # failure class -> count

    @property
    def ok(self) -> bool:
        return self.failed == 0


class JourneyReport(Frozen):
    journey: str
    target: str
    results: tuple[StepResult, ...]  # every step run so far, across phases
    total_steps: int
    paused_at: str | None = None  # the checkpoint, while the journey waits for the release
    failure_classes: dict[str, int]

    @property
    def completed_steps(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def finished(self) -> bool:
        return self.ok and self.completed_steps == self.total_steps


def run_smoke(*, checks: Sequence[SmokeCheck], base_url: str, target: str,
              variables: Mapping[str, Any] | None = None, timeout: float = 10.0,
              login_paths: Sequence[str] = ("/login",), transport: httpx.BaseTransport | None = None) -> SmokeReport:
    """Run every check (each with a fresh cookie jar) and count the failures by class."""
    require_variables_each(checks, provided=variables or {})
    with StepRunner(base_url=base_url, variables=variables, timeout=timeout, login_paths=login_paths,
                    transport=transport) as runner:
        results = []
        for check in checks:
            runner.clear_cookies()
            results.append(runner.run(check))
        return SmokeReport(target=target, base_url=runner.base_url, results=tuple(results),
                           passed=sum(r.ok for r in results), failed=sum(not r.ok for r in results),
                           failure_classes=_classes(results))


def require_variables_each(checks: Sequence[HttpStep], *, provided: Mapping[str, Any]) -> None:
    """Smoke checks are independent: a capture in one does not feed another."""
    for check in checks:
        require_variables([check], provided=provided)


class JourneyRun:
    """A journey in progress: one browser session (cookies, captured values) kept in memory.

    ``run()`` plays all steps; ``run_to_checkpoint()`` stops after the checkpoint so the
    release can happen, then ``resume()`` plays the rest, optionally at another address.
    The object holds session cookies: keep it in the process, never serialize it.
    """

    def __init__(self, journey: Journey, *, name: str, base_url: str, target: str = "entry",
                 variables: Mapping[str, Any] | None = None, timeout: float = 10.0,
                 login_paths: Sequence[str] = ("/login",), transport: httpx.BaseTransport | None = None) -> None:
        require_variables(journey.steps, provided=variables or {})
        self.journey, self.name, self.target = journey, name, target
        self._runner = StepRunner(base_url=base_url, variables=variables, timeout=timeout,
                                  login_paths=login_paths, transport=transport)
        self._next = 0
        self._results: list[StepResult] = []

    def run(self) -> JourneyReport:
        return self._play(until=len(self.journey.steps))

    def run_to_checkpoint(self) -> JourneyReport:
        if self.journey.checkpoint is None:
            return self.run()
        names = [step.name for step in self.journey.steps]
        return self._play(until=names.index(self.journey.checkpoint) + 1)

    def resume(self, *, base_url: str | None = None, target: str | None = None) -> JourneyReport:
        if base_url is not None:
            self._runner.base_url = base_url
        if target is not None:
            self.target = target
        return self.run()

    def close(self) -> None:
        self._runner.close()

    def __enter__(self) -> "JourneyRun":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _play(self, *, until: int) -> JourneyReport:
        failed = any(not r.ok for r in self._results)
        while not failed and self._next < until:
            result = self._runner.run(self.journey.steps[self._next])
            self._results.append(result)
            self._next += 1
            failed = not result.ok
        paused = not failed and 0 < self._next < len(self.journey.steps)
        return JourneyReport(journey=self.name, target=self.target, results=tuple(self._results),
                             total_steps=len(self.journey.steps),
                             paused_at=self.journey.steps[self._next - 1].name if paused else None,
                             failure_classes=_classes(self._results))


def run_journey(journey: Journey, *, name: str, base_url: str, target: str = "entry",
                variables: Mapping[str, Any] | None = None, timeout: float = 10.0,
                login_paths: Sequence[str] = ("/login",), transport: httpx.BaseTransport | None = None) -> JourneyReport:
    """Play a whole journey once; stops at the first failing step."""
    with JourneyRun(journey, name=name, base_url=base_url, target=target, variables=variables, timeout=timeout,
                    login_paths=login_paths, transport=transport) as run:
        return run.run()


def smoke_gate(reports: Sequence[SmokeReport | JourneyReport]) -> GateCheck:
    """The judge's hard gate: any failed check or journey step fails the analysis."""
    failures = Counter[str]()
    for report in reports:
        failures.update(report.failure_classes)
    failed = sum(failures.values())
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(failures.items()))
    targets = sorted({r.target for r in reports if not r.ok})
    if targets:
        detail += f" on {', '.join(targets)}"
    return GateCheck(name="smoke", failures=failed, detail=detail or f"{len(reports)} report(s) clean")


def version_base_url(status: PlatformStatus, *, module: str, version: str) -> str:
    """The direct address of one version, bypassing the weights."""
    versions = status.modules.get(module)
    if versions is None:
        raise UnknownObject("no such module on the platform", subject=module)
    running = versions.versions.get(version)
    if running is None:
        raise UnknownObject(f"version {version} is not running", subject=module, hint="deploy it first")
    if not running.address:
        raise PlatformError(f"version {version} reports no direct address", subject=module,
                            hint="the platform backend must report VersionStatus.address")
    return running.address


def entry_base_url(status: PlatformStatus) -> str:
    """The public entry address (follows the weights and session pins)."""
    if not status.entry_address:
        raise PlatformError("the platform reports no entry address", subject=status.application,
                            hint="set 'entry:' in the descriptor and check the router")
    return status.entry_address


def _classes(results: Sequence[StepResult]) -> dict[str, int]:
    return dict(Counter(r.failure.value for r in results if r.failure is not None))
