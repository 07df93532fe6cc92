"""One module's canary inside a wave: deploy, smoke, session preflight, then the strategy's steps.

A failure anywhere rolls this module back at once (traffic to stable first) and
tells the other modules of the wave to stop; the wave rolls them back.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from nahtlos.analysis.models import Verdict, WindowStart
from nahtlos.errors import GateFailed, NahtlosError
from nahtlos.plan_models import SessionStep
from nahtlos.release.outcome import ModuleOutcome
from nahtlos.strategy import Analyze, Bake, Pause, SetWeight, strategy_for
from tasks.analysis import bake_canary, judge_canary, open_window
from tasks.canary import deploy_canary, roll_back, set_weight
from tasks.checks import smoke_canary
from tasks.connections import Target, connect
from tasks.probes import prove_canary_sessions, prove_session_continuity
from tasks.sessions import session_preflight

_aborts: dict[str, threading.Event] = {}
_aborts_lock = threading.Lock()


def abort_event(key: str) -> threading.Event:
    with _aborts_lock:
        return _aborts.setdefault(key, threading.Event())


class Approval(RunInput):
    approve: bool
    comment: str = ""


@flow(name="module", flow_run_name="{module} {stable} -> {version}")
def release_module(target: Target, module: str, stable: str, version: str, session_step: SessionStep | None = None,
                   strategy: dict[str, Any] | None = None, abort_key: str = "") -> ModuleOutcome:
    abort = abort_event(abort_key)
    walk = _Walk(target, module, stable, version)
    try:
        walk.run(session_step, strategy, abort)
    except NahtlosError as exc:
        return walk.fail(str(exc), abort)
    return walk.outcome(passed=True)


class _Walk:
    def __init__(self, target: Target, module: str, stable: str, version: str) -> None:
        self.target, self.module, self.stable, self.version = target, module, stable, version
        self.steps: list[str] = []
        self.verdicts: list[str] = []
        self.deployed = False

    def run(self, session_step: SessionStep | None, override: dict[str, Any] | None, abort: threading.Event) -> None:
        app = connect(self.target).app
        strategy = strategy_for(app, self.module, override)
        others = tuple(v for v in connect(self.target).running(self.module) if v not in (self.stable, self.version))
        deploy_canary(self.target, self.module, self.stable, self.version, others, strategy.deploy_timeout)
        self.deployed = True
        self.steps.append(f"deployed {self.version}")
        report = smoke_canary(self.target, self.module, self.version)
        if report is not None:
            self.steps.append(f"smoke {report.passed}/{report.passed + report.failed} passed (direct)")
            if not report.ok:
                raise GateFailed(f"smoke test of {self.version} failed: {report.failure_classes}", subject=self.module)
        spec = app.modules[self.module].versions[self.version].session
        if session_step is not None and spec is not None:
            pre = session_preflight(self.target, self.module, self.version, session_step)
            self.steps.append(pre.summary())
        self._probe_sessions()  # before any user reaches the canary
        start: WindowStart | None = None
        for step in strategy.steps:
            if abort.is_set():
                raise GateFailed("another module of the wave failed", subject=self.module)
            if isinstance(step, SetWeight):
                set_weight(self.target, self.module, self.stable, self.version, step.set_weight)
                self.steps.append(f"weight {step.set_weight}%")
                start = open_window(self.target, self.module)
            elif isinstance(step, Bake) and start is not None:
                judged = bake_canary(self.target, self.module, start, self.stable, self.version, strategy.analysis,
                                     step.bake, strategy.watch_interval)
                self._verdict(judged, final=False)
            elif isinstance(step, Analyze) and start is not None:
                judged = judge_canary(self.target, self.module, start, self.stable, self.version,
                                      strategy.analysis_for(step), strategy.bake_extension, strategy.watch_interval)
                self._verdict(judged, final=True)
            elif isinstance(step, Pause):
                self._approve(step)
        self._probe_sessions()  # again before promotion moves the pinned users

    def _probe_sessions(self) -> None:
        """Behavioural proof that sessions survive in both directions (``probes:`` of the descriptor)."""
        for gate in (prove_session_continuity, prove_canary_sessions):
            report = gate(self.target, self.module, self.stable, self.version)
            if report is not None:
                self.steps.append(report.summary())

    def _verdict(self, judged, *, final: bool) -> None:
        if judged is None:
            return
        if judged.verdict is Verdict.FAIL or (final and judged.verdict is not Verdict.PASS):
            self.verdicts.append(judged.summary())
            raise GateFailed(f"analysis failed: {judged.reason}", subject=self.module)
        if final:
            self.verdicts.append(judged.summary())

    def _approve(self, step: Pause) -> None:
        get_run_logger().info("waiting for approval of %s %s: %s", self.module, self.version, step.pause.message)
        answer = pause_flow_run(wait_for_input=Approval, timeout=int(step.pause.timeout), poll_interval=1)
        if not answer.approve:
            raise GateFailed("an operator declined the canary" + (f": {answer.comment}" if answer.comment else ""),
                             subject=self.module)
        self.steps.append("approved by an operator")

    def fail(self, reason: str, abort: threading.Event) -> ModuleOutcome:
        detected = time.time()
        abort.set()
        get_run_logger().warning("%s %s failed: %s", self.module, self.version, reason)
        rolled_back_at = None
        try:
            if self.deployed:
                roll_back(self.target, self.module, self.stable, self.version)
                rolled_back_at = time.time()
            else:  # a version that never became ready: make sure nothing of it is left
                connect(self.target).platform.retire(module=self.module, version=self.version)
        except NahtlosError as exc:  # the wave tries again; say why here
            get_run_logger().error("rolling back %s failed: %s", self.module, exc)
        return self.outcome(passed=False, reason=reason, first_failure_at=detected, rolled_back_at=rolled_back_at)

    def outcome(self, **fields: Any) -> ModuleOutcome:
        return ModuleOutcome(module=self.module, stable=self.stable, canary=self.version, steps=self.steps,
                             verdicts=self.verdicts, **fields)

