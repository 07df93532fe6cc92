"""Reconciling a (re-)run with what the platform runs: leftovers of another release go first.

A canary of exactly the requested version is kept (the run continues with it,
re-walking the strategy from its first step). Any other non-stable version
still running is rolled back before planning, so a release never starts a
second canary next to a stale one or leaves traffic split silently.
"""

from __future__ import annotations

from nahtlos.release.live import LiveModule


def leftovers(live: dict[str, LiveModule], targets: dict[str, str]) -> list[tuple[str, str, str]]:
    """(module, stable, stale version) for every running version that this request does not continue."""
    found = []
    for name, module in sorted(live.items()):
        if module.stable is None:
            continue
        for version in ([module.canary] if module.canary else []) + list(module.others):
            if targets.get(name) != version:
                found.append((name, module.stable, version))
    return found
