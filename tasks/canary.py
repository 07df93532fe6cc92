"""Tasks with side effects on the platform: deploy, weights, promote, roll back."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from nahtlos.platforms.base import VersionStatus
from nahtlos.release import canary
from tasks.connections import Target, connect
from tasks.planning import _transient

SIDE_EFFECT = dict(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1,
                   retry_condition_fn=lambda t, r, s: _transient(s))


@task(name="deploy canary", **SIDE_EFFECT)
def deploy_canary(target: Target, module: str, stable: str, version: str, others: tuple[str, ...] = (),
                  timeout: float = 120.0) -> VersionStatus:
    return canary.deploy_canary(connect(target).platform, module=module, stable=stable, canary=version,
                                others=others, timeout=timeout)


@task(name="set traffic weight", task_run_name="{module}: {percent}% to {version}", **SIDE_EFFECT)
def set_weight(target: Target, module: str, stable: str, version: str, percent: int) -> canary.WeightResult:
    return canary.set_weight(connect(target).platform, module=module, stable=stable, canary=version, percent=percent)


@task(name="promote", task_run_name="promote {module} {version}", **SIDE_EFFECT)
def promote(target: Target, module: str, stable: str, version: str, drain_deadline: float) -> canary.PromotionResult:
    return canary.promote(connect(target).platform, module=module, stable=stable, canary=version,
                          drain_deadline=drain_deadline)


@task(name="roll back", task_run_name="roll back {module} to {stable}", **SIDE_EFFECT)
def roll_back(target: Target, module: str, stable: str, version: str) -> canary.RollbackResult:
    return canary.roll_back(connect(target).platform, module=module, stable=stable, canary=version)
