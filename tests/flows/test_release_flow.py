"""The release flow end to end: real Prefect server, local platform with real processes, real Redis."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from datetime import datetime, timezone

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
    assert_run_graph_shows_waves_and_edges(state.state_details.flow_run_id)


def assert_run_graph_shows_waves_and_edges(run_id) -> None:
    """What operators see in the UI: /api/flow_runs/{id}/graph-v2 of the release and of a wave."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    def graph(flow_run_id):
        data = httpx.get(f"{PREFECT_API_URL.value()}/flow_runs/{flow_run_id}/graph-v2", timeout=30).json()
        nodes = {node_id: node for node_id, node in data["nodes"]}
        return nodes

    top = graph(run_id)
    waves = sorted((n for n in top.values() if n["kind"] == "flow-run"), key=lambda n: n["label"])
    assert [n["label"] for n in waves] == ["wave / wave 0", "wave / wave 1"]
    plan = next(n for n in top.values() if n["label"].startswith("analyze dependencies"))
    assert plan["label"] in [top[p["id"]]["label"] for p in waves[0]["parents"]]
    assert any(top[p["id"]]["label"].startswith("descriptor at live versions") for p in plan["parents"])
    wave = graph(waves[0]["id"])
    wave_labels = sorted(n["label"] for n in wave.values())
    assert "module / back 1.0.0 -> 1.1.0" in wave_labels and "module / middle 1.0.0 -> 1.1.0" in wave_labels
    assert any(label.startswith("promote back") for label in wave_labels)
    module = graph(next(n["id"] for n in wave.values() if n["label"] == "module / middle 1.0.0 -> 1.1.0"))
    module_labels = [n["label"] for n in sorted(module.values(), key=lambda n: n["start_time"])]
    assert module_labels[0].startswith("deploy canary"), module_labels
    assert any(label.startswith("middle: 20% to 1.1.0") for label in module_labels)
    edges = sum(len(n["parents"]) for n in module.values())
    assert edges >= len(module) - 1  # the steps form a chain


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
    started = datetime.now(timezone.utc)
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
    assert weight_tasks("front", since=started) == []  # it never had any weight
    assert weight_tasks("middle", since=started) == ["middle: 100% to 1.1.0", "middle: 20% to 1.1.0"]


def weight_tasks(module: str, *, since: datetime) -> list[str]:
    """Names of the weight-setting task runs of ``module`` started after ``since``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName, TaskRunFilterStartTime

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(like_=f"{module}: "), start_time=TaskRunFilterStartTime(after_=since)))
    return sorted(r.name for r in runs)
    assert shop.redis.get("nahtlos:session-format:shop") in (None, b"1")


SLOW_BAKE = {"steps": [{"set_weight": 20}, {"bake": 60}, {"analyze": {}}, {"set_weight": 100}]}


def test_a_release_killed_mid_canary_is_reconciled_by_its_re_run(shop, prefect_server):
    import os
    import signal
    import subprocess
    import sys

    code = ("import json, sys; from flows.release import release; "
            "release(application='shop', targets=json.loads(sys.argv[1]), strategy=json.loads(sys.argv[2]), "
            "**json.loads(sys.argv[3]))")
    env = {**os.environ, "PREFECT_API_URL": prefect_server.api_url, "DO_NOT_TRACK": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(GOOD), json.dumps(SLOW_BAKE),
                             json.dumps(shop.params)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while shop.versions("middle") != {"1.0.0": 80, "1.1.0": 20}:
            assert time.monotonic() < deadline and proc.poll() is None, "the canary never started"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert shop.versions("middle") == {"1.0.0": 80, "1.1.0": 20}  # left split by the killed run
    most_versions = []
    watching = threading.Event()

    def watch():  # a re-run must never start a second canary
        while not watching.is_set():
            status = shop.platform.status()
            most_versions.append(max(len(m.versions) for m in status.modules.values()))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    load = Traffic(shop.entry("/"), rate=100).start()
    try:
        state = run_release(shop, GOOD, wait_for_other_release=120)  # the dead run's lease runs out first
    finally:
        load.stop()
        watching.set()
        watcher.join(timeout=5)
    assert state.name == "Promoted", state.message
    assert max(most_versions) == 2
    for module, version in GOOD.items():
        assert shop.versions(module) == {version: 100}
    assert load.failed == 0, load.counts


def test_a_second_release_of_the_same_application_is_refused_while_one_runs(shop):
    first: list = []
    strategy = {"steps": [{"set_weight": 20}, {"bake": 8}, {"set_weight": 100}]}
    context = contextvars.copy_context()  # the thread must talk to the same Prefect server
    runner = threading.Thread(target=context.run, args=(
        lambda: first.append(run_release(shop, {"back": "1.1.0"}, strategy=strategy)),))
    load = Traffic(shop.entry("/"), rate=50).start()
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while "1.1.0" not in shop.versions("back"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        second = run_release(shop, {"middle": "1.1.0"})
    finally:
        runner.join(timeout=120)
        load.stop()
    assert second.name == "Refused"
    assert "another release of shop is running" in second.message
    assert first[0].name == "Promoted", first[0].message
    assert shop.versions("middle") == {"1.0.0": 100}


def test_rollback_all_also_reverts_the_waves_promoted_before_the_failing_one(shop):
    descriptor = shop.catalog / "shop.yaml"
    descriptor.write_text(descriptor.read_text().replace("entry: front\n", "entry: front\nrollback: all\n"))
    load = Traffic(shop.entry("/"), rate=100).start()
    try:
        state = run_release(shop, {"middle": "1.1.0", "front": "1.2.0"})
    finally:
        load.stop()
    assert state.name == "RolledBack", state.message
    assert "front" in state.message
    assert shop.versions("middle") == {"1.0.0": 100}  # promoted in wave 1, reverted after wave 2 failed
    assert shop.versions("front") == {"1.0.0": 100}
    assert shop.redis.get("nahtlos:session-format:shop") in (None, b"1")
