"""The Prefect-free release mechanics, and task bodies through ``.fn()``."""

from __future__ import annotations

import pytest

from nahtlos.analysis.models import AnalysisConfig, Verdict
from nahtlos.analysis.platform_stats import PlatformStatsProvider
from nahtlos.descriptor import Application
from nahtlos.errors import DescriptorError
from nahtlos.loader import load_application, parse_application
from nahtlos.platforms.base import ModuleStatus, PlatformStatus, RequestStats, TrafficSplit, VersionStatus
from nahtlos.release.bake import bake
from nahtlos.release.live import LiveModule, at_live_versions, live_state
from nahtlos.release.outcome import ModuleOutcome, Outcome, ReleaseSummary, WaveOutcome
from nahtlos.release.reconcile import leftovers
from nahtlos.strategy import Analyze, Bake, SetWeight, Strategy, strategy_for

SHOP = "tests/flows/shop.yaml"


def status(module: str, versions: dict[str, tuple[int, RequestStats]], record: dict | None = None) -> PlatformStatus:
    weights = {v: w for v, (w, _) in versions.items()}
    return PlatformStatus(application="shop", entry_address=None, modules={module: ModuleStatus(
        module=module, service_address=None, release_state=record or {},
        split=TrafficSplit(module=module, configured=weights, live=weights),
        versions={v: VersionStatus(module=module, version=v, ready=True, state="ready", weight=w, stats=s)
                  for v, (w, s) in versions.items()})})


class StatusFeed:
    """A platform's status() over time, from recorded counters (what the router would report)."""

    def __init__(self, snapshots: list[PlatformStatus]) -> None:
        self.snapshots = snapshots

    def __call__(self) -> PlatformStatus:
        return self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]


def stats(requests: int, errors: int) -> RequestStats:
    return RequestStats(requests=requests, status_2xx=requests - errors, status_5xx=errors,
                        latency_buckets={0.01: requests, float("inf"): requests}, latency_sum_seconds=requests * 0.005)


def test_a_broken_canary_fails_the_bake_at_the_first_look_not_at_its_end():
    feed = StatusFeed([status("middle", {"1.0.0": (80, stats(0, 0)), "1.2.0": (20, stats(0, 0))}),
                       status("middle", {"1.0.0": (80, stats(400, 0)), "1.2.0": (20, stats(100, 12))})])
    provider = PlatformStatsProvider(status=feed)
    start = provider.begin_window(module="middle")
    waited: list[float] = []
    judged = bake(provider=provider, start=start, canary="1.2.0", stable="1.0.0", config=AnalysisConfig(),
                  seconds=60, interval=1, sleep=waited.append)
    assert judged.verdict is Verdict.FAIL and "error rate" in judged.reason
    assert waited == [1]


def test_too_few_samples_do_not_end_a_bake_early():
    feed = StatusFeed([status("middle", {"1.0.0": (80, stats(0, 0)), "1.1.0": (20, stats(0, 0))}),
                       status("middle", {"1.0.0": (80, stats(8, 0)), "1.1.0": (20, stats(2, 0))})])
    provider = PlatformStatsProvider(status=feed)
    start = provider.begin_window(module="middle")
    clock = iter(range(100)).__next__
    judged = bake(provider=provider, start=start, canary="1.1.0", stable="1.0.0",
                  config=AnalysisConfig(max_inconclusive_extensions=0), seconds=3, interval=1,
                  sleep=lambda s: None, clock=lambda: float(clock()))
    assert judged.verdict is Verdict.FAIL and judged.exhausted  # "not yet": the bake went on to its end


def test_live_state_reads_stable_and_canary_from_the_release_record():
    app = load_application(SHOP)
    found = live_state(_Platform(status("middle", {"1.0.0": (80, stats(0, 0)), "1.1.0": (20, stats(0, 0))},
                                        {"stable": "1.0.0", "canary": "1.1.0"})), app)
    assert found["middle"] == LiveModule(module="middle", stable="1.0.0", canary="1.1.0",
                                         weights={"1.0.0": 80, "1.1.0": 20},
                                         release={"stable": "1.0.0", "canary": "1.1.0"})
    assert found["front"].stable is None


def test_the_live_stable_version_replaces_the_descriptors_deployed_version():
    app = load_application(SHOP)
    moved = at_live_versions(app, {"middle": LiveModule(module="middle", stable="1.1.0")})
    assert moved.modules["middle"].deployed == "1.1.0" and moved.modules["front"].deployed == "1.0.0"


def test_leftover_canaries_of_another_request_are_rolled_back_but_the_requested_one_is_kept():
    live = {"a": LiveModule(module="a", stable="1.0.0", canary="1.1.0"),
            "b": LiveModule(module="b", stable="1.0.0", canary="2.0.0", others=("1.5.0",)),
            "c": LiveModule(module="c", stable="1.0.0")}
    assert leftovers(live, {"a": "1.1.0", "b": "3.0.0"}) == [("b", "1.0.0", "2.0.0"), ("b", "1.0.0", "1.5.0")]


def test_strategy_layers_merge_application_module_and_run_override():
    app = load_application(SHOP)
    strategy = strategy_for(app, "middle", {"analysis": {"min_samples": 5}, "drain_deadline": 1})
    assert strategy.steps == [SetWeight(set_weight=20), Bake(bake=3), Analyze(), SetWeight(set_weight=100)]
    assert strategy.analysis.min_samples == 5 and strategy.analysis.max_inconclusive_extensions == 2
    assert strategy.drain_deadline == 1


def test_a_strategy_that_never_reaches_full_traffic_is_rejected():
    with pytest.raises(ValueError, match="last set_weight must be 100"):
        Strategy.model_validate({"steps": [{"set_weight": 10}, {"bake": 5}]})


def test_a_broken_strategy_in_the_descriptor_is_a_descriptor_error():
    text = open(SHOP).read().replace("- bake: 3", "- bake: -3")
    with pytest.raises(DescriptorError, match="strategy"):
        parse_application(text)


def test_the_report_holds_versions_and_verdicts_only():
    summary = ReleaseSummary(application="shop", outcome=Outcome.ROLLED_BACK, reason="middle failed",
                             targets={"middle": "1.2.0"},
                             waves=[WaveOutcome(index=0, modules=["middle"], outcome=Outcome.ROLLED_BACK,
                                                module_outcomes=[ModuleOutcome(module="middle", stable="1.0.0",
                                                                               canary="1.2.0", passed=False,
                                                                               reason="error rate")])])
    text = summary.markdown(None)
    assert "rolled_back" in text and "| 1 (rolled_back) | middle | 1.0.0 -> 1.2.0 | failed |" in text


def test_the_plan_task_body_runs_without_prefect():
    from tasks.planning import analyze_dependencies

    plan = analyze_dependencies.fn(load_application(SHOP), {"front": "1.1.0", "middle": "1.1.0"})
    assert plan.waves == [["middle"], ["front"]]


class _Platform:
    def __init__(self, found: PlatformStatus) -> None:
        self.found = found

    def status(self) -> PlatformStatus:
        return self.found
