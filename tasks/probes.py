"""Session-probe tasks: the behavioural proof that users keep their sessions (hard gates).

Each task creates its probe sessions and replays them inside one call: probe sessions hold
live credentials and never leave the process, only the counts do. A failure raises
``GateFailed`` naming the versions and the response classes, after writing the report
as a markdown artifact.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from nahtlos import probes
from nahtlos.probes import ContinuityReport
from tasks.connections import Target, connect


@task(name="session probes", task_run_name="session probes {module} {stable} sessions on {version}",
      cache_policy=NO_CACHE)
def prove_session_continuity(target: Target, module: str, stable: str, version: str) -> ContinuityReport | None:
    c = connect(target)
    return _gate(target, probes.prove_continuity(c.platform, c.app, module=module, stable=stable, canary=version))


@task(name="canary session probes", task_run_name="session probes {module} {version} sessions on {stable}",
      cache_policy=NO_CACHE)
def prove_canary_sessions(target: Target, module: str, stable: str, version: str) -> ContinuityReport | None:
    c = connect(target)
    return _gate(target, probes.prove_canary_sessions(c.platform, c.app, module=module, stable=stable, canary=version))


def _gate(target: Target, report: ContinuityReport | None) -> ContinuityReport | None:
    if report is not None:
        create_markdown_artifact(key=f"{target.application}-{report.module}-probes-{report.origin}",
                                 markdown=report.markdown(), description=report.summary()[:500])
    return probes.require_continuity(report)
