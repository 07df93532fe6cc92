"""Canary steps on one module: deploy, move weight (and verify it is live), promote, roll back.

Weights always move as one (stable, canary) pair. Each step records the release
state next to the workload first, so a re-run that finds a half-done step knows
what the versions are and finishes or reverses it.
"""

from __future__ import annotations

import time

from nahtlos.descriptor import Frozen
from nahtlos.errors import PlatformError
from nahtlos.platforms.base import DrainReport, Platform, TrafficSplit, VersionStatus

VERIFY_ATTEMPTS = 10  # reads of the live split before a mismatch is an error
VERIFY_PAUSE = 0.2


class WeightResult(Frozen):
    module: str
    canary_percent: int
    split: TrafficSplit
    verified: bool  # False: the platform cannot tell what its data plane applied ("unknown")


class PromotionResult(Frozen):
    module: str
    promoted: str
    retired: str
    drain: DrainReport


class RollbackResult(Frozen):
    module: str
    stable: str
    removed: str
    moved_sessions: int
    split: TrafficSplit


def deploy_canary(platform: Platform, *, module: str, stable: str, canary: str, others: tuple[str, ...] = (),
                  timeout: float = 120.0) -> VersionStatus:
    """Start ``canary`` at weight 0 next to ``stable``; leftovers of another release are removed first."""
    for stale in others:
        set_weight(platform, module=module, stable=stable, canary=stale, percent=0)
        platform.move_sessions(module=module, from_version=stale, to_version=stable)
        platform.retire(module=module, version=stale)
    platform.set_release_state(module=module, state={"stable": stable, "canary": canary, "phase": "deploying"})
    status = platform.deploy(module=module, version=canary, timeout=timeout)
    platform.set_release_state(module=module, state={"stable": stable, "canary": canary, "phase": "canary"})
    return status


def set_weight(platform: Platform, *, module: str, stable: str, canary: str, percent: int) -> WeightResult:
    """Give ``percent`` of new sessions to ``canary`` and the rest to ``stable``; read it back."""
    wanted = {stable: 100 - percent, canary: percent}
    split = platform.set_weights(module=module, weights=wanted)
    for _ in range(VERIFY_ATTEMPTS):
        if split.live is None:
            return WeightResult(module=module, canary_percent=percent, split=split, verified=False)
        if _same(split.live, wanted):
            return WeightResult(module=module, canary_percent=percent, split=split, verified=True)
        time.sleep(VERIFY_PAUSE)
        split = platform.traffic(module=module)
    raise PlatformError(f"asked for {wanted} but the router applies {split.live}", subject=f"module {module}",
                        hint="check the router; the release stops here", transient=True)


def _same(live: dict[str, int], wanted: dict[str, int]) -> bool:
    return {v: w for v, w in live.items() if w} == {v: w for v, w in wanted.items() if w}


def promote(platform: Platform, *, module: str, stable: str, canary: str, drain_deadline: float) -> PromotionResult:
    """All traffic to ``canary``; drain ``stable`` by session count (moving what remains); retire it."""
    set_weight(platform, module=module, stable=stable, canary=canary, percent=100)
    platform.set_release_state(module=module, state={"stable": stable, "canary": canary, "phase": "promoting"})
    drain = platform.drain(module=module, version=stable, deadline=drain_deadline, move_to=canary)
    platform.retire(module=module, version=stable)
    platform.set_release_state(module=module, state={"stable": canary, "previous": stable, "phase": "promoted"})
    return PromotionResult(module=module, promoted=canary, retired=stable, drain=drain)


def roll_back(platform: Platform, *, module: str, stable: str, canary: str) -> RollbackResult:
    """Traffic back to ``stable`` first, then the canary's sessions, then remove the canary."""
    weight = set_weight(platform, module=module, stable=stable, canary=canary, percent=0)
    platform.set_release_state(module=module, state={"stable": stable, "canary": canary, "phase": "rolling-back"})
    moved = platform.move_sessions(module=module, from_version=canary, to_version=stable)
    platform.retire(module=module, version=canary)
    platform.set_release_state(module=module, state={"stable": stable, "phase": "rolled-back"})
    return RollbackResult(module=module, stable=stable, removed=canary, moved_sessions=moved, split=weight.split)
