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
    return handoff.check_readable(store=c.store, config=c.sessions, provider=_migrations(c, module, version),
                                  app=c.app, module=module, version=version, step=step)


@task(name="session restore for rollback", **SESSION_TASK)
def restore_sessions(target: Target, step: SessionStep) -> MigrationReport:
    c = connect(target)
    return handoff.restore_after_rollback(store=c.store, config=c.sessions, provider=_migrations(c, None, None),
                                          app=c.app, step=step)


@task(name="session migrate and verify", **SESSION_TASK)
def migrate_sessions(target: Target, step: SessionStep, serving: dict[str, str]) -> handoff.PromotionHandoff:
    c = connect(target)
    module = c.sessions.migrations.http.module if c.sessions.migrations.http else None
    provider = _migrations(c, module, serving.get(module)) if module else c.migrations()
    return handoff.migrate_after_promotion(store=c.store, config=c.sessions, provider=provider, step=step)


def _migrations(c, module: str | None, version: str | None):
    """HTTP migrations are served by a running version of the module the descriptor names."""
    http = c.sessions.migrations.http
    if http is None:
        return c.migrations()
    from nahtlos.smoke import version_base_url

    serving = version if module == http.module else None
    status = c.platform.status()
    if serving is None:
        serving = max(status.modules[http.module].versions)  # any running version serves the contract
    return c.migrations(address=version_base_url(status, module=http.module, version=serving))
