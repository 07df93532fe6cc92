"""Roll back leftovers of an earlier, interrupted release before planning a new one."""

from __future__ import annotations

from prefect import get_run_logger, task

from nahtlos.release.canary import RollbackResult, roll_back
from nahtlos.release.live import LiveModule
from nahtlos.release.reconcile import leftovers
from tasks.canary import SIDE_EFFECT
from tasks.connections import Target, connect


@task(name="reconcile with live state", **SIDE_EFFECT)
def roll_back_leftovers(target: Target, live: dict[str, LiveModule], targets: dict[str, str]) -> list[RollbackResult]:
    platform = connect(target).platform
    done = []
    for module, stable, stale in leftovers(live, targets):
        get_run_logger().warning("rolling back %s %s left by an interrupted release", module, stale)
        done.append(roll_back(platform, module=module, stable=stable, canary=stale))
    return done
