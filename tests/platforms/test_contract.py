"""The Platform protocol's contract, run against every backend (see conftest.BACKENDS).

These tests only use the protocol (``nahtlos.platforms.base.Platform``) and its
models, so any backend that passes them can be driven by the release flow.
"""

from __future__ import annotations

import httpx
import pytest

from nahtlos.errors import Conflict, InvalidInput, UnknownObject
from nahtlos.platforms.base import DrainReport, Platform, PlatformStatus, TrafficSplit, VersionStatus

CANARY = "1.1.0"


def test_the_backend_implements_the_platform_protocol(platform):
    assert isinstance(platform, Platform)


def test_status_lists_every_module_with_its_deployed_version_ready_at_full_weight(platform, tinyapp):
    status = platform.status()
    assert isinstance(status, PlatformStatus)
    assert status.application == tinyapp.name
    assert set(status.modules) == set(tinyapp.modules)
    for name, module in tinyapp.modules.items():
        version = status.modules[name].versions[module.deployed]
        assert (version.ready, version.state, version.weight) == (True, "ready", 100)
        assert status.modules[name].split.verified


def test_deploy_starts_a_version_next_to_the_stable_one_ready_and_without_traffic(platform):
    result = platform.deploy(module="back", version=CANARY, timeout=60)
    assert isinstance(result, VersionStatus)
    assert (result.module, result.version, result.ready, result.weight) == ("back", CANARY, True, 0)
    versions = platform.status().modules["back"].versions
    assert set(versions) == {"1.0.0", CANARY}
    assert versions["1.0.0"].weight == 100


def test_deploying_the_same_version_twice_changes_nothing(platform):
    first = platform.deploy(module="back", version=CANARY, timeout=60)
    second = platform.deploy(module="back", version=CANARY, timeout=60)
    assert (second.ready, second.address, second.weight) == (True, first.address, 0)
    assert set(platform.status().modules["back"].versions) == {"1.0.0", CANARY}


def test_weights_are_set_and_read_back_as_configured_and_live(platform):
    platform.deploy(module="middle", version=CANARY, timeout=60)
    split = platform.set_weights(module="middle", weights={"1.0.0": 90, CANARY: 10})
    assert isinstance(split, TrafficSplit)
    assert split.configured == {"1.0.0": 90, CANARY: 10}
    read_back = platform.traffic(module="middle")
    assert read_back.configured == {"1.0.0": 90, CANARY: 10}
    assert read_back.live is None or read_back.verified  # "unknown" is allowed, a wrong "yes" is not
    assert platform.set_weights(module="middle", weights={"1.0.0": 90, CANARY: 10}).configured == split.configured
    versions = platform.status().modules["middle"].versions
    assert (versions["1.0.0"].weight, versions[CANARY].weight) == (90, 10)


@pytest.mark.parametrize("weights, error", [
    ({"1.0.0": 60, CANARY: 30}, InvalidInput),   # does not sum to 100
    ({"1.0.0": 50, "9.9.9": 50}, UnknownObject),  # no such version
    ({"1.0.0": 101, CANARY: -1}, InvalidInput),   # not a percentage
])
def test_invalid_weights_are_refused_and_change_nothing(platform, weights, error):
    platform.deploy(module="middle", version=CANARY, timeout=60)
    with pytest.raises(error):
        platform.set_weights(module="middle", weights=weights)
    assert platform.traffic(module="middle").configured == {"1.0.0": 100, CANARY: 0}


def test_retire_refuses_a_version_that_still_carries_weight(platform):
    platform.deploy(module="back", version=CANARY, timeout=60)
    platform.set_weights(module="back", weights={"1.0.0": 50, CANARY: 50})
    with pytest.raises(Conflict):
        platform.retire(module="back", version="1.0.0")
    versions = platform.status().modules["back"].versions
    assert versions["1.0.0"].ready and versions["1.0.0"].weight == 50


def test_drain_reports_an_idle_version_as_drained_and_retire_removes_it_idempotently(platform):
    platform.deploy(module="back", version=CANARY, timeout=60)
    platform.set_weights(module="back", weights={"1.0.0": 0, CANARY: 100})
    report = platform.drain(module="back", version="1.0.0", deadline=5)
    assert isinstance(report, DrainReport)
    assert (report.module, report.version, report.drained) == ("back", "1.0.0", True)
    assert report.in_flight in (0, None)  # None: a backend that cannot see requests in flight
    again = platform.drain(module="back", version="1.0.0", deadline=5)
    assert again.drained
    platform.retire(module="back", version="1.0.0")
    platform.retire(module="back", version="1.0.0")
    status = platform.status().modules["back"]
    assert set(status.versions) == {CANARY}
    assert status.split.configured == {CANARY: 100}
    platform.deploy(module="back", version="1.0.0", timeout=60)  # back to the baseline for the next test


def test_moving_sessions_returns_a_count_and_a_second_move_finds_none(platform):
    platform.deploy(module="front", version=CANARY, timeout=60)
    moved = platform.move_sessions(module="front", from_version="1.0.0", to_version=CANARY)
    assert isinstance(moved, int) and moved >= 0
    assert platform.move_sessions(module="front", from_version="1.0.0", to_version=CANARY) == 0


def test_release_state_is_kept_next_to_the_workload(platform):
    platform.set_release_state(module="front", state={"release": "r-1", "step": 2})
    platform.set_release_state(module="front", state={"release": "r-1", "step": 3})
    assert platform.status().modules["front"].release_state == {"release": "r-1", "step": 3}
    platform.set_release_state(module="front", state={})


def test_every_verb_names_an_unknown_module_or_version(platform):
    with pytest.raises(UnknownObject):
        platform.deploy(module="nope", version="1.0.0", timeout=10)
    with pytest.raises(UnknownObject):
        platform.deploy(module="back", version="7.7.7", timeout=10)
    with pytest.raises(UnknownObject):
        platform.traffic(module="nope")
    with pytest.raises(UnknownObject):
        platform.drain(module="back", version="7.7.7", deadline=1)
    with pytest.raises(UnknownObject):
        platform.retire(module="nope", version="1.0.0")


def test_status_counts_requests_per_version(platform):
    entry = platform.status().entry_address
    if entry is None:
        pytest.skip("this backend has no entry address reachable from the tests")
    before = platform.status().modules["front"].versions["1.0.0"].stats.requests
    with httpx.Client(timeout=10) as client:
        for _ in range(5):
            assert client.get(entry + "/whoami").status_code == 200
    stats = platform.status().modules["front"].versions["1.0.0"].stats
    assert stats.requests >= before + 5
    assert stats.status_2xx >= 5
    assert max(stats.latency_buckets.values()) >= 5
