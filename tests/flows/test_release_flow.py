"""The release flow end to end: real Prefect server, local platform with real processes, real Redis."""

from __future__ import annotations

import json
import threading
import time

import pytest

from flows.release import release
from tests.flows.traffic import Traffic

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GOOD = {"front": "1.1.0", "middle": "1.1.0", "back": "1.1.0"}


def run_release(shop, targets, **extra):
    return release(application="shop", targets=targets, **shop.params, **extra, return_state=True)


def test_a_good_release_promotes_wave_by_wave_with_no_failed_request(shop):
    load = Traffic(shop.entry("/"), rate=100).start()
    try:
        state = run_release(shop, GOOD)
    finally:
        counts = load.stop()
    assert state.name == "Promoted", state.message
    for module, version in GOOD.items():
        assert shop.versions(module) == {version: 100}
    assert counts["ok"] > 300 and load.failed == 0, counts
    # the store moved to format 2 after the last wave, nothing lost
    records = [json.loads(shop.redis.get(k)) for k in shop.redis.scan_iter("session:*")]
    assert len(records) == 50 and {r["schema"] for r in records} == {2}
    assert shop.redis.get("nahtlos:session-format:shop") == b"2"


def test_a_canary_with_five_percent_errors_is_rolled_back_fast(shop):
    load = Traffic(shop.entry("/"), rate=150).start()
    back_on_stable: list[float] = []

    def watch():
        while not back_on_stable:
            if load.first_bad and shop.versions("middle") == {"1.0.0": 100}:
                back_on_stable.append(time.time())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        state = run_release(shop, {"middle": "1.2.0"})
    finally:
        counts = load.stop()
        watcher.join(timeout=5)
    assert state.name == "RolledBack", state.message
    assert shop.versions("middle") == {"1.0.0": 100}
    assert "1.2.0" not in shop.platform.status().modules["middle"].versions
    seconds = back_on_stable[0] - load.first_bad
    print(f"\nrollback: first bad response to 100% stable in {seconds:.2f} s; load {dict(counts)}")
    assert seconds < 5.0


def test_a_canary_whose_session_preflight_fails_never_receives_traffic(shop):
    shop.redis.set("session:broken", b"{not json", ex=600)
    load = Traffic(shop.entry("/"), rate=100).start()
    try:
        state = run_release(shop, {"front": "1.1.0", "middle": "1.1.0"})
    finally:
        load.stop()
    assert load.failed == 0
    assert state.name == "RolledBack"
    assert "session" in state.message and "1 of 51" in state.message
    assert "{not json" not in state.message
    assert shop.versions("front") == {"1.0.0": 100}
    assert shop.versions("middle") == {"1.1.0": 100}  # the first wave stays promoted
    assert "1.1.0" not in shop.platform.status().modules["front"].versions
    assert weight_tasks(state, "front") == []  # it never had any weight


def weight_tasks(state, module: str) -> list[str]:
    """Names of the weight-setting task runs of ``module`` in this release."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=f"{module}: ")))
    release_time = state.timestamp
    return [r.name for r in runs if r.start_time is None or r.start_time >= release_time.subtract(seconds=600)]
    assert shop.redis.get("nahtlos:session-format:shop") in (None, b"1")
