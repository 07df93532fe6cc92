"""What runs now, read from the platform: the truth a (re-)run reconciles against.

Each module's release state (recorded by ``canary.py`` next to the workload)
names its stable version and, during a canary, the canary version. Without a
record, the only running version is stable; with several, the descriptor's
``deployed`` version is, if it runs.
"""

from __future__ import annotations

from typing import Any

from nahtlos.descriptor import Application, Frozen
from nahtlos.errors import PlatformError
from nahtlos.platforms.base import ModuleStatus, Platform, PlatformStatus


class LiveModule(Frozen):
    module: str
    stable: str | None  # None: nothing of this module runs
    canary: str | None = None  # a version other than stable that still runs (a canary in progress)
    others: tuple[str, ...] = ()  # more running versions (stale leftovers)
    weights: dict[str, int] = {}
    release: dict[str, Any] = {}


def live_state(platform: Platform, app: Application) -> dict[str, LiveModule]:
    status = platform.status()
    return {name: _module(app, name, status) for name in app.modules}


def _module(app: Application, name: str, status: PlatformStatus) -> LiveModule:
    found: ModuleStatus | None = status.modules.get(name)
    if found is None or not found.versions:
        return LiveModule(module=name, stable=None)
    running = sorted(found.versions)
    record = found.release_state or {}
    stable = record.get("stable")
    if stable not in running:
        deployed = app.modules[name].deployed
        stable = deployed if deployed in running else max(running, key=lambda v: found.split.configured.get(v, 0))
    canary = record.get("canary") if record.get("canary") in running and record.get("canary") != stable else None
    rest = [v for v in running if v not in (stable, canary)]
    if canary is None and rest:
        canary, rest = rest[0], rest[1:]
    return LiveModule(module=name, stable=stable, canary=canary, others=tuple(rest),
                      weights=dict(found.split.configured), release=record)


def at_live_versions(app: Application, live: dict[str, LiveModule]) -> Application:
    """The descriptor with ``deployed`` replaced by what really runs as stable (platform state wins)."""
    data = app.model_dump(by_alias=True, exclude_none=True)
    for name, module in live.items():
        if module.stable is None:
            continue
        if module.stable not in app.modules[name].versions:
            raise PlatformError(f"runs version {module.stable}, which the descriptor does not list",
                                subject=f"module {name}",
                                hint="add that version to the descriptor or roll the module back by hand")
        data["modules"][name]["deployed"] = module.stable
    return Application.model_validate(data)
