"""Metrics from the platform's own statistics (the local router, or any backend's ``status()``).

``PlatformStatus`` carries cumulative counters per version; a window is the difference of two
snapshots, taken at ``begin_window`` and ``end_window``. The start snapshot travels inside the
``WindowStart`` so the two calls can happen in different tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nahtlos.analysis.models import MetricsWindow, WindowStart
from nahtlos.analysis.window import build_window
from nahtlos.errors import UnknownObject
from nahtlos.platforms.base import PlatformStatus, RequestStats

SOURCE = "platform"


class PlatformStatsProvider:
    """``PlatformStatsProvider(status=platform.status)``: any callable returning a PlatformStatus."""

    def __init__(self, *, status: Callable[[], PlatformStatus], clock: Callable[[], float] = time.time) -> None:
        self._status = status
        self._clock = clock

    def begin_window(self, *, module: str) -> WindowStart:
        return WindowStart(module=module, source=SOURCE, started_at=self._clock(), baseline=self._readings(module))

    def end_window(self, *, start: WindowStart) -> MetricsWindow:
        readings = self._readings(start.module)
        return build_window(start=start, ended_at=self._clock(), source=SOURCE,
                            readings_at_start=start.baseline, readings_at_end=readings)

    def _readings(self, module: str) -> dict[str, RequestStats]:
        status = self._status()
        found = status.modules.get(module)
        if found is None:
            raise UnknownObject("the platform reports no such module", subject=f"{status.application}/{module}")
        return {version: running.stats for version, running in found.versions.items()}
