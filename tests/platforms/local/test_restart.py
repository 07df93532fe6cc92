"""A daemon crash during a canary: `up` again restores weights, pins and the same addresses."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from nahtlos.errors import PlatformUnreachable
from nahtlos.platforms.local.client import LocalPlatform
from tests.platforms.local.conftest import wait_until

pytestmark = pytest.mark.slow


def test_after_a_daemon_crash_during_a_canary_routing_resumes_with_the_same_weights_and_pins(local_platform, tinyapp):
    local_platform.deploy(module="front", version="1.1.0")
    local_platform.set_weights(module="front", weights={"1.0.0": 50, "1.1.0": 50})
    entry = local_platform.entry_address()
    users = [httpx.Client() for _ in range(6)]
    try:
        for user in users:
            user.get(entry + "/login")
        homes = [user.get(entry + "/whoami").json()["version"] for user in users]
        assert set(homes) == {"1.0.0", "1.1.0"}
        local_platform.set_weights(module="front", weights={"1.0.0": 90, "1.1.0": 10})
        pids = {v: r.pid for v, r in local_platform.state.load_desired().modules["front"].versions.items()}
        time.sleep(1.5)  # pins reach the state directory within a second

        daemon = json.loads(local_platform.state.daemon_file.read_text())["pid"]
        os.kill(daemon, signal.SIGKILL)
        wait_until(lambda: _refused(entry), what="the router to be gone")
        with pytest.raises(PlatformUnreachable):
            local_platform.status()

        restored = LocalPlatform.up(tinyapp, state_dir=local_platform.state.path)
        assert restored.entry_address() == entry
        split = restored.traffic(module="front")
        assert split.configured == {"1.0.0": 90, "1.1.0": 10} and split.verified
        adopted = {v: r.pid for v, r in restored.state.load_desired().modules["front"].versions.items()}
        assert adopted == pids  # the versions kept running; the new daemon adopted them
        for user, home in zip(users, homes):
            assert {user.get(entry + "/whoami").json()["version"] for _ in range(3)} == {home}
        assert restored.status().modules["front"].versions["1.1.0"].pinned_sessions == homes.count("1.1.0")
        restored.close()
    finally:
        for user in users:
            user.close()


def _refused(url: str) -> bool:
    try:
        httpx.get(url + "/whoami", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def test_a_daemon_stopped_by_sigterm_stops_its_versions_and_up_starts_them_again(local_platform, tinyapp):
    local_platform.deploy(module="back", version="1.1.0")
    local_platform.set_weights(module="back", weights={"1.0.0": 70, "1.1.0": 30})
    old_pids = {v: r.pid for v, r in local_platform.state.load_desired().modules["back"].versions.items()}
    daemon = json.loads(local_platform.state.daemon_file.read_text())["pid"]
    os.kill(daemon, signal.SIGTERM)
    wait_until(lambda: not local_platform.state.daemon_file.exists(), what="the daemon to stop")
    for pid in old_pids.values():
        wait_until(lambda: not os.path.exists(f"/proc/{pid}/cmdline") or not open(f"/proc/{pid}/cmdline").read(),
                   what="its versions to stop")

    restored = LocalPlatform.up(tinyapp, state_dir=local_platform.state.path)
    back = restored.status().modules["back"]
    assert back.split.configured == {"1.0.0": 70, "1.1.0": 30} and back.split.verified
    assert all(v.ready and "restarted" in v.message for v in back.versions.values())
    answer = httpx.get(restored.entry_address() + "/", timeout=10).json()
    assert answer["downstream"]["downstream"]["version"] in ("1.0.0", "1.1.0")
    restored.close()
