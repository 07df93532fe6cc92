"""Sticky sessions during a canary, moving them, and draining with a move."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow


def versions_seen(client: httpx.Client, url: str, n: int) -> set[str]:
    return {client.get(url).json()["version"] for _ in range(n)}


def test_every_request_of_a_session_reaches_its_version_until_the_session_is_moved(local_platform):
    local_platform.deploy(module="front", version="1.1.0")
    local_platform.set_weights(module="front", weights={"1.0.0": 50, "1.1.0": 50})
    url = local_platform.entry_address() + "/whoami"
    users = [httpx.Client() for _ in range(8)]
    try:
        homes = []
        for user in users:
            user.get(url.replace("/whoami", "/login"))  # the application's session cookie appears
            homes.append(user.get(url).json()["version"])
        assert set(homes) == {"1.0.0", "1.1.0"}  # new sessions follow the weights
        for canary in (10, 90):  # the canary moves on, pinned sessions stay where they started
            local_platform.set_weights(module="front", weights={"1.0.0": 100 - canary, "1.1.0": canary})
            for user, home in zip(users, homes):
                assert versions_seen(user, url, 5) == {home}
        on_old = homes.count("1.0.0")
        assert local_platform.status().modules["front"].versions["1.0.0"].pinned_sessions == on_old
        assert local_platform.move_sessions(module="front", from_version="1.0.0", to_version="1.1.0") == on_old
        for user in users:
            assert versions_seen(user, url, 3) == {"1.1.0"}
    finally:
        for user in users:
            user.close()


def test_the_routers_cookie_alone_keeps_a_session_on_its_version(local_platform):
    local_platform.deploy(module="front", version="1.1.0")
    local_platform.set_weights(module="front", weights={"1.0.0": 50, "1.1.0": 50})
    url = local_platform.entry_address() + "/whoami"
    seen = []
    for _ in range(4):
        with httpx.Client() as browser:  # keeps cookies, never logs in
            first = browser.get(url).json()["version"]
            assert versions_seen(browser, url, 5) == {first}
            seen.append(first)
    assert set(seen) == {"1.0.0", "1.1.0"}


def test_draining_with_a_move_hands_the_remaining_sessions_to_the_new_version(local_platform):
    local_platform.deploy(module="front", version="1.1.0")
    url = local_platform.entry_address() + "/whoami"
    with httpx.Client() as user:
        user.get(url.replace("/whoami", "/login"))
        assert versions_seen(user, url, 3) == {"1.0.0"}
        local_platform.set_weights(module="front", weights={"1.0.0": 0, "1.1.0": 100})
        assert versions_seen(user, url, 3) == {"1.0.0"}  # still pinned while 1.0.0 drains
        report = local_platform.drain(module="front", version="1.0.0", deadline=0.5, move_to="1.1.0")
        assert (report.drained, report.pinned_sessions, report.in_flight) == (True, 0, 0)
        assert report.moved_sessions == 1
        assert versions_seen(user, url, 3) == {"1.1.0"}
