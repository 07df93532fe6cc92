"""Zero downtime with real processes: shifting, draining and retiring under constant load."""

from __future__ import annotations

import time

import pytest

from tests.platforms.local.conftest import wait_until
from tests.platforms.local.load import ConstantLoad

pytestmark = pytest.mark.slow


def test_shifting_weights_draining_and_retiring_under_load_fails_no_request(local_platform):
    entry = local_platform.entry_address()
    # GETs through all three modules, plus POSTs to the entry module, which are never retried.
    with ConstantLoad(entry + "/", rate=200, timeout=5, max_seconds=90) as load, \
            ConstantLoad(entry + "/echo", rate=40, method="POST", body=b"form data " * 50, max_seconds=90) as posts:
        wait_until(lambda: load.count() > 100, what="load to start")
        for module in ("front", "back"):  # the public entry, and a module behind two hops
            local_platform.deploy(module=module, version="1.1.0")  # weight 0
            for canary in (10, 50, 100):
                split = local_platform.set_weights(module=module, weights={"1.0.0": 100 - canary, "1.1.0": canary})
                assert split.verified
                time.sleep(1.0)
            report = local_platform.drain(module=module, version="1.0.0", deadline=10)
            assert report.drained, report
            local_platform.retire(module=module, version="1.0.0")
        time.sleep(1.0)
    result = load.result
    assert result.failed == 0, result.failures[:10]
    assert posts.result.failed == 0, posts.result.failures[:10]
    assert posts.result.versions["1.0.0"] > 0 and posts.result.versions["1.1.0"] > 0
    assert result.sent >= 500  # ~2,400 on an idle machine; the bound only proves there was real load
    assert result.versions["front 1.0.0 > middle 1.0.0 > back 1.0.0"] > 0
    assert result.versions["front 1.1.0 > middle 1.0.0 > back 1.0.0"] > 0  # the front canary served
    assert result.versions["front 1.1.0 > middle 1.0.0 > back 1.1.0"] > 0  # and then the back canary
    status = local_platform.status()
    assert set(status.modules["front"].versions) == {"1.1.0"}
    assert set(status.modules["back"].versions) == {"1.1.0"}
    assert status.modules["front"].versions["1.1.0"].stats.status_5xx == 0
