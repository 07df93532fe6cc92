"""Tasks that measure and judge a canary against its stable version over the same window."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from nahtlos.analysis.models import AnalysisConfig, Judgement, WindowStart
from nahtlos.release.bake import analyze_window, bake
from tasks.connections import Target, connect


@task(name="open metrics window", cache_policy=NO_CACHE)
def open_window(target: Target, module: str) -> WindowStart:
    return connect(target).metrics.begin_window(module=module)


@task(name="bake", task_run_name="bake {module} {seconds}s", cache_policy=NO_CACHE)
def bake_canary(target: Target, module: str, start: WindowStart, stable: str, version: str,
                config: AnalysisConfig, seconds: float, interval: float) -> Judgement | None:
    return bake(provider=connect(target).metrics, start=start, canary=version, stable=stable, config=config,
                seconds=seconds, interval=interval)


@task(name="judge", task_run_name="judge {module} {version}", cache_policy=NO_CACHE)
def judge_canary(target: Target, module: str, start: WindowStart, stable: str, version: str,
                 config: AnalysisConfig, extension: float, interval: float) -> Judgement:
    return analyze_window(provider=connect(target).metrics, start=start, canary=version, stable=stable,
                          config=config, extension=extension, interval=interval)
