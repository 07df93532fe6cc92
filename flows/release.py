"""The zero-downtime release of an application: plan, then wave after wave, promote or roll back.

    release (flow)                 reads live state, reconciles, plans, walks the waves
    └── wave N (sub-flow)          compat writing, modules in parallel, blast-radius smoke, promote, sessions
        └── module (sub-flow)      deploy canary, smoke it, session preflight, the strategy's steps
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact, create_table_artifact,
                              update_progress_artifact)
from prefect.states import Completed, Failed

from flows.locking import one_release_at_a_time
from flows.module import abort_event, release_module
from flows.parallel import run_in_threads
from flows.reporting import announce
from nahtlos.plan_models import ReleasePlan, SessionStep
from nahtlos.release.outcome import ModuleOutcome, Outcome, ReleaseSummary, WaveOutcome, plan_markdown
from nahtlos.errors import NahtlosError
from nahtlos.strategy import strategy_for
from tasks.canary import promote, roll_back
from tasks.checks import smoke_blast_radius
from tasks.connections import Target, connect
from tasks.planning import analyze_dependencies, application_at_live_versions, read_live_state
from tasks.reconcile import roll_back_leftovers
from tasks.sessions import compat_writing, migrate_sessions, restore_sessions


@flow(name="release", flow_run_name="release {application}")
def release(application: str, targets: dict[str, str], strategy: dict[str, Any] | None = None,
            catalog: str = "default", platform: str = "nahtlos-local-platform/default",
            session_store: str | None = "default", metrics: str | None = None,
            wait_for_other_release: float = 0.0):
    """Release ``application`` to ``targets`` (module -> version) without downtime."""
    target = Target(application=application, catalog=catalog, platform=platform, session_store=session_store,
                    metrics=metrics)
    try:
        with one_release_at_a_time(application, wait_seconds=wait_for_other_release):
            return run_release(target, targets, strategy)
    except NahtlosError as exc:  # e.g. another release holds the lock
        return finish(target, None, [], time.time(), Outcome.REFUSED, str(exc))


def run_release(target: Target, targets: dict[str, str], strategy: dict[str, Any] | None):
    """The release itself, inside the application's lock (the rollback flow reuses it)."""
    started = time.time()
    plan: ReleasePlan | None = None
    waves: list[WaveOutcome] = []
    try:
        live = read_live_state(target)
        roll_back_leftovers(target, live, targets)
        app = application_at_live_versions(target, read_live_state(target))
        plan = analyze_dependencies(app, targets)
        create_markdown_artifact(key=f"{target.application}-plan", markdown=plan_markdown(plan),
                                 description="release plan: waves and why")
        if not plan.releasable:
            return finish(target, plan, waves, started, Outcome.REFUSED, "; ".join(plan.reasons))
        progress = create_progress_artifact(progress=0.0, key=f"{target.application}-progress",
                                            description="waves promoted")
        for index in range(len(plan.waves)):
            outcome = release_wave(target, plan, index, strategy)
            waves.append(outcome)
            update_progress_artifact(progress, progress=100.0 * (index + 1) / len(plan.waves))
            if outcome.outcome is not Outcome.PROMOTED:
                if app.rollback == "all" and waves[:-1]:
                    revert_promoted(target, waves[:-1])
                return finish(target, plan, waves, started, outcome.outcome, outcome.reason)
        return finish(target, plan, waves, started, Outcome.PROMOTED, "")
    except NahtlosError as exc:  # before any wave ran this is a refusal; after, an operator must look
        started_waves = plan is not None and plan.releasable
        return finish(target, plan, waves, started, Outcome.FAILED if started_waves else Outcome.REFUSED, str(exc))


@flow(name="wave", flow_run_name="wave {index}")
def release_wave(target: Target, plan: ReleasePlan, index: int, strategy: dict[str, Any] | None = None) -> WaveOutcome:
    modules = plan.waves[index]
    app = connect(target).app
    step = _session_step(app, plan, index)
    if step is not None:
        compat_writing(target, step)
    changes = [plan.changes[m] for m in modules]
    abort_event(f"{plan.application}/{index}").clear()
    max_parallel = min(strategy_for(app, m, strategy).max_parallel for m in modules)
    outcomes: list[ModuleOutcome] = run_in_threads(
        release_module, [dict(target=target, module=c.module, stable=c.from_version, version=c.to_version,
                              session_step=step, strategy=strategy, abort_key=f"{plan.application}/{index}")
                         for c in changes], max_workers=max_parallel)
    failed = [o for o in outcomes if not o.passed]
    if not failed:
        smoke = smoke_blast_radius(target, plan.wave_blast_radius(index))
        broken = [r for r in smoke if not r.ok]
        if not broken:
            return promote_wave(target, index, changes, outcomes, step, strategy)
        reason = "smoke test after the wave failed: " + "; ".join(f"{r.target}: {r.failure_classes}" for r in broken)
    else:
        reason = "; ".join(o.reason for o in failed)  # each names its module
    for o in outcomes:
        if o.rolled_back_at is None and o.canary in connect(target).running(o.module):
            roll_back(target, o.module, o.stable, o.canary)
    if step is not None:
        restore_sessions(target, step)
    return WaveOutcome(index=index, modules=modules, outcome=Outcome.ROLLED_BACK, reason=reason,
                       module_outcomes=outcomes)


def _session_step(app, plan: ReleasePlan, index: int) -> SessionStep | None:
    """The wave's session handoff, when it has one: a session module changes, or the format moves."""
    if not plan.session_steps or app.sessions is None:
        return None
    step = plan.session_steps[index]
    changes = [plan.changes[m] for m in plan.waves[index]]
    touches = any(app.modules[c.module].versions[c.to_version].session for c in changes)
    return step if touches or step.migrates else None


def promote_wave(target: Target, index: int, changes, outcomes: list[ModuleOutcome], step: SessionStep | None,
                 strategy: dict[str, Any] | None) -> WaveOutcome:
    app = connect(target).app
    for change in changes:
        deadline = strategy_for(app, change.module, strategy).drain_deadline
        promote(target, change.module, change.from_version, change.to_version, deadline)
    sessions = []
    if step is not None and step.migrates:
        try:
            handoff = migrate_sessions(target, step, {c.module: c.to_version for c in changes})
        except NahtlosError as exc:  # promoted already: report, an operator looks at the named keys
            return WaveOutcome(index=index, modules=[c.module for c in changes], outcome=Outcome.FAILED,
                               reason=str(exc), module_outcomes=outcomes)
        sessions = [handoff.migration.summary(), handoff.verification.summary()]
    return WaveOutcome(index=index, modules=[c.module for c in changes], outcome=Outcome.PROMOTED,
                       module_outcomes=outcomes, sessions=sessions)


def revert_promoted(target: Target, waves: list[WaveOutcome]) -> None:
    """``rollback: all``: release the promoted waves' previous versions again, newest wave first."""
    for wave in reversed(waves):
        run_release(target, {m.module: m.stable for m in wave.module_outcomes}, BACK_AT_ONCE)


BACK_AT_ONCE = {"steps": [{"set_weight": 100}]}  # returning to known-good versions needs no canary


def finish(target: Target, plan: ReleasePlan | None, waves: list[WaveOutcome], started: float, outcome: Outcome,
           reason: str):
    summary = ReleaseSummary(application=target.application, outcome=outcome, reason=reason,
                             targets={m: c.to_version for m, c in (plan.changes.items() if plan else [])},
                             waves=waves, seconds=round(time.time() - started, 3))
    create_markdown_artifact(key=f"{target.application}-report", markdown=summary.markdown(plan),
                             description=f"release {outcome.value}")
    create_table_artifact(key=f"{target.application}-modules",
                          table=summary.module_rows() or [{"outcome": outcome.value}],
                          description="per module: versions, result and rollback timing (unix seconds)")
    announce(summary)
    if outcome is Outcome.PROMOTED:
        return Completed(message=f"promoted: {', '.join(f'{m}={v}' for m, v in summary.targets.items())}",
                         name="Promoted", data=summary)
    names = {Outcome.ROLLED_BACK: "RolledBack", Outcome.REFUSED: "Refused", Outcome.FAILED: "Failed"}
    return Failed(message=f"{outcome.value}: {reason}", name=names[outcome])
