"""Session-handoff tasks: compat writing, preflight, migration and verification."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from nahtlos.plan_models import SessionStep
from nahtlos.release import handoff
from nahtlos.sessions.models import FormatChange, MigrationReport, PreflightReport
from tasks.connections import Target, connect
from tasks.planning import _transient

SESSION_TASK = dict(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2,
                    retry_condition_fn=lambda t, r, s: _transient(s))


@task(name="session compat writing", **SESSION_TASK)
def compat_writing(target: Target, step: SessionStep) -> FormatChange:
    c = connect(target)
    return handoff.compat_writing(store=c.store, config=c.sessions, step=step)


@task(name="session preflight", task_run_name="session preflight {module} {version}", **SESSION_TASK)
def session_preflight(target: Target, module: str, version: str, step: SessionStep) -> PreflightReport:
    c = connect(target)
    serving = version if c.sessions.migrations.http and c.sessions.migrations.http.module == module else None
    return handoff.check_readable(store=c.store, config=c.sessions, provider=c.migrations(serving=serving),
                                  app=c.app, module=module, version=version, step=step)


@task(name="session restore for rollback", **SESSION_TASK)
def restore_sessions(target: Target, step: SessionStep) -> MigrationReport:
    c = connect(target)
    return handoff.restore_after_rollback(store=c.store, config=c.sessions, provider=c.migrations(), app=c.app,
                                          step=step)


@task(name="session migrate and verify", **SESSION_TASK)
def migrate_sessions(target: Target, step: SessionStep, serving: dict[str, str]) -> handoff.PromotionHandoff:
    c = connect(target)
    http = c.sessions.migrations.http
    provider = c.migrations(serving=serving.get(http.module) if http else None)
    return handoff.migrate_after_promotion(store=c.store, config=c.sessions, provider=provider, step=step)

