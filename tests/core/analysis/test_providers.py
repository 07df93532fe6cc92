import math

import pytest

from nahtlos.analysis.models import WindowStart
from nahtlos.analysis.platform_stats import PlatformStatsProvider
from nahtlos.analysis.window import MetricsProvider, window_stats
from nahtlos.errors import UnknownObject
from nahtlos.platforms.base import ModuleStatus, PlatformStatus, RequestStats, TrafficSplit, VersionStatus

from tests.core.analysis.windows import request_stats


def platform_status(module: str = "forms", **versions: RequestStats) -> PlatformStatus:
    names = {v: v.lstrip("v").replace("_", ".") for v in versions}
    running = {names[v]: VersionStatus(module=module, version=names[v], ready=True, state="ready", stats=s)
               for v, s in versions.items()}
    return PlatformStatus(application="demo", entry_address=None, modules={module: ModuleStatus(
        module=module, service_address=None, versions=running,
        split=TrafficSplit(module=module, configured={v: 0 for v in running}, live=None))})


def test_a_window_is_the_difference_of_the_counters_at_both_ends():
    start = request_stats([0.01] * 10 + [0.2] * 5, errors=2, connection_errors=1)
    end = request_stats([0.01] * 30 + [0.2] * 20 + [9.0] * 2, errors=7, connection_errors=4)
    w = window_stats(version="1.0.0", start=start, end=end)
    assert (w.responses, w.errors, w.connection_errors) == (37, 5, 3)
    assert w.latency_buckets[0.01] == 20 and w.latency_buckets[0.25] == 35 and w.latency_count == 37
    assert w.latency_sum_seconds == pytest.approx(20 * 0.01 + 15 * 0.2 + 18.0)


def test_a_restarted_version_counts_from_its_restart_and_a_new_one_from_zero():
    before = request_stats([0.01] * 50, errors=3)
    after_restart = request_stats([0.01] * 4, errors=1)
    assert window_stats(version="1.0.0", start=before, end=after_restart).responses == 4
    assert window_stats(version="2.0.0", start=None, end=after_restart).errors == 1


def test_platform_statistics_measure_canary_and_stable_over_the_same_window():
    snapshots = iter([
        platform_status(v1_0_0=request_stats([0.1] * 100, errors=1)),
        platform_status(v1_0_0=request_stats([0.1] * 190, errors=2), v2_0_0=request_stats([0.1] * 10, errors=3)),
    ])
    clock = iter([100.0, 130.0])
    provider = PlatformStatsProvider(status=lambda: next(snapshots), clock=lambda: next(clock))
    assert isinstance(provider, MetricsProvider)
    start = provider.begin_window(module="forms")
    start = WindowStart.model_validate_json(start.model_dump_json())  # it may travel between tasks
    window = provider.end_window(start=start)
    assert (window.started_at, window.ended_at, window.source) == (100.0, 130.0, "platform")
    assert (window.stats("1.0.0").responses, window.stats("1.0.0").errors) == (90, 1)
    assert (window.stats("2.0.0").responses, window.stats("2.0.0").errors) == (10, 3)
    assert window.stats("9.9.9").responses == 0
    assert window.stats("2.0.0").latency_buckets[math.inf] == 10


def test_an_unknown_module_is_named():
    provider = PlatformStatsProvider(status=lambda: platform_status())
    with pytest.raises(UnknownObject, match="demo/payments"):
        provider.begin_window(module="payments")
