"""Smoke-test tasks: read-only HTTP checks."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from nahtlos.release.checks import smoke_services, smoke_version
from nahtlos.smoke import SmokeReport
from tasks.connections import Target, connect


@task(name="smoke test canary", task_run_name="smoke {module} {version} directly", cache_policy=NO_CACHE)
def smoke_canary(target: Target, module: str, version: str) -> SmokeReport | None:
    c = connect(target)
    return smoke_version(c.platform, c.app, module=module, version=version)


@task(name="smoke test blast radius", cache_policy=NO_CACHE)
def smoke_blast_radius(target: Target, modules: list[str]) -> list[SmokeReport]:
    c = connect(target)
    return smoke_services(c.platform, c.app, modules=modules)
