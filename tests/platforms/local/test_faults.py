"""A version killed under load: idempotent requests are retried, the crash is reported, nothing hangs."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from nahtlos.errors import Conflict
from tests.platforms.local.conftest import wait_until
from tests.platforms.local.load import ConstantLoad

pytestmark = pytest.mark.slow


def pid_of(platform, module: str, version: str) -> int:
    return platform.state.load_desired().modules[module].versions[version].pid


def test_a_version_killed_under_load_is_reported_crashed_and_no_request_fails(local_platform):
    local_platform.deploy(module="front", version="1.1.0")
    local_platform.set_weights(module="front", weights={"1.0.0": 50, "1.1.0": 50})
    victim = pid_of(local_platform, "front", "1.1.0")
    entry = local_platform.entry_address()
    with ConstantLoad(entry + "/whoami", rate=150, timeout=3, max_seconds=60) as load:
        wait_until(lambda: load.result.versions["front 1.1.0"] > 50, what="traffic on the canary")
        os.killpg(victim, signal.SIGKILL)
        time.sleep(2.0)
    result = load.result
    assert result.failed == 0, result.failures[:10]
    assert result.slowest < 3  # every request finished well within its timeout
    version = local_platform.status().modules["front"].versions["1.1.0"]
    assert (version.state, version.ready) == ("crashed", False)
    assert "SIGKILL" in version.message and "not restarted" in version.message
    split = local_platform.traffic(module="front")
    assert split.configured == {"1.0.0": 50, "1.1.0": 50}
    assert split.live == {"1.0.0": 100, "1.1.0": 0} and not split.verified
    with pytest.raises(ProcessLookupError):
        os.killpg(victim, 0)  # and it stays dead: nothing restarted it


def test_a_crashed_version_cannot_get_weight_until_it_is_deployed_again(local_platform):
    local_platform.deploy(module="back", version="1.1.0")
    os.killpg(pid_of(local_platform, "back", "1.1.0"), signal.SIGKILL)
    wait_until(lambda: local_platform.status().modules["back"].versions["1.1.0"].state == "crashed", what="crash")
    with pytest.raises(Conflict):
        local_platform.set_weights(module="back", weights={"1.0.0": 0, "1.1.0": 100})
    again = local_platform.deploy(module="back", version="1.1.0")
    assert (again.state, again.ready) == ("ready", True)
    assert local_platform.set_weights(module="back", weights={"1.0.0": 0, "1.1.0": 100}).verified
    with httpx.Client() as client:
        answer = client.get(local_platform.entry_address() + "/").json()
    assert answer["downstream"]["downstream"]["version"] == "1.1.0"
