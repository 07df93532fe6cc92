"""Baking a canary: keep judging while traffic flows, fail fast, extend when inconclusive.

A bake re-judges the window every ``watch_interval`` seconds so a clearly broken
canary is rolled back within seconds, not at the end of the bake. An analyze
step judges the whole window since the weight was set; inconclusive extends the
bake (up to the configured number of extensions), and then fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nahtlos.analysis.judge import analyze
from nahtlos.analysis.models import AnalysisConfig, GateCheck, Judgement, Verdict, WindowStart
from nahtlos.analysis.window import MetricsProvider

Gates = Callable[[], Sequence[GateCheck]]


def bake(*, provider: MetricsProvider, start: WindowStart, canary: str, stable: str, config: AnalysisConfig,
         seconds: float, interval: float, gates: Gates = lambda: (), sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> Judgement | None:
    """Wait ``seconds``, judging every ``interval``; return at once on a failing verdict."""
    deadline = clock() + seconds
    last = None
    while (left := deadline - clock()) > 0:
        sleep(min(interval, left))
        last = analyze(provider=provider, start=start, canary=canary, stable=stable, config=config, gates=gates())
        # "Too few samples" turned into fail (no extensions left) only means "not yet" during a bake.
        if last.verdict is Verdict.FAIL and not last.exhausted:
            return last
    return last


def analyze_window(*, provider: MetricsProvider, start: WindowStart, canary: str, stable: str,
                   config: AnalysisConfig, extension: float, interval: float, gates: Gates = lambda: (),
                   sleep: Callable[[float], None] = time.sleep) -> Judgement:
    """Judge the window; while inconclusive with extensions left, bake ``extension`` more seconds."""
    used = 0
    while True:
        result = analyze(provider=provider, start=start, canary=canary, stable=stable, config=config,
                         gates=gates(), extensions_used=used)
        if result.verdict is not Verdict.INCONCLUSIVE:
            return result
        early = bake(provider=provider, start=start, canary=canary, stable=stable, config=config,
                     seconds=extension, interval=interval, gates=gates, sleep=sleep)
        if early is not None and early.verdict is Verdict.FAIL and not early.exhausted:
            return early
        used += 1
