"""Routing decisions: weights, live split, pins, moves (pure logic, no sockets)."""

from __future__ import annotations

from collections import Counter

from nahtlos.platforms.local.pins import PinTable
from nahtlos.platforms.local.routes import Backend, ModuleRoutes


def module(**weights: int) -> ModuleRoutes:
    routes = ModuleRoutes("m", session_cookie="sid", pin_idle_seconds=60)
    for version, weight in weights.items():
        backend = Backend("m", version, "127.0.0.1", 1)
        backend.weight, backend.ready = weight, True
        routes.backends[version] = backend
    return routes


def test_new_sessions_follow_the_weights_exactly_over_a_hundred_requests():
    routes = module(stable=90, canary=10)
    picks = Counter(routes.pick().version for _ in range(100))
    assert picks == {"stable": 90, "canary": 10}


def test_the_live_split_redistributes_the_share_of_a_version_that_cannot_serve():
    routes = module(a=50, b=30, c=20)
    assert routes.live_split() == {"a": 50, "b": 30, "c": 20}
    routes.backends["a"].mark_unhealthy("refuses connections")
    assert routes.live_split() == {"a": 0, "b": 60, "c": 40}
    assert Counter(routes.pick().version for _ in range(50)) == {"b": 30, "c": 20}


def test_without_a_weighted_ready_version_any_ready_one_serves_rather_than_nobody():
    routes = module(stable=100, canary=0)
    routes.backends["stable"].ready = False
    assert routes.pick().version == "canary"
    routes.backends["canary"].ready = False
    assert routes.pick() is None


def test_a_session_cookie_pins_a_session_to_the_version_it_started_on():
    routes = module(stable=50, canary=50)
    homes = {}
    for user in range(10):
        backend, _ = routes.route(b"sid=user-%d" % user, router_cookie=False)
        homes[user] = backend.version
    assert set(homes.values()) == {"stable", "canary"}
    routes.set_weights({"stable": 0, "canary": 100})
    for user, home in homes.items():
        assert routes.route(b"theme=dark; sid=user-%d" % user, router_cookie=False)[0].version == home


def test_the_router_cookie_names_the_version_and_is_only_issued_at_the_entry():
    routes = module(stable=100)
    backend, cookie = routes.route(None, router_cookie=True)
    token, version = cookie.split("-", 1)
    assert (len(token), version) == (18, "stable")
    assert routes.route(None, router_cookie=False)[1] is None
    routes.backends["canary"] = Backend("m", "canary", "127.0.0.1", 2)
    routes.backends["canary"].ready = True
    routes.set_weights({"canary": 100})
    assert routes.route(f"nahtlos_pin={cookie}".encode(), router_cookie=True) == (routes.backends["stable"], None)


def test_moving_sessions_repins_known_sessions_and_sessions_seen_later():
    routes = module(old=100, new=0)
    assert routes.route(b"sid=known", router_cookie=False)[0].version == "old"
    routes.set_weights({"old": 0, "new": 100})
    assert routes.route(b"sid=known", router_cookie=False)[0].version == "old"  # pinned while old drains
    assert routes.pinned_counts() == {"old": 1}
    assert routes.move_sessions("old", "new") == 1
    assert routes.route(b"sid=known", router_cookie=False)[0].version == "new"
    late_cookie = b"nahtlos_pin=0123456789abcdef01-old"  # a session that never came back until now
    backend, reissued = routes.route(late_cookie, router_cookie=True)
    assert backend.version == "new" and reissued == "0123456789abcdef01-new"


def test_pins_expire_after_the_idle_time_and_survive_a_dump_and_load():
    table = PinTable(idle_seconds=10)
    table.pin("a", "1.0.0", now=100.0)
    table.pin("b", "2.0.0", now=105.0)
    assert table.count_by_version(now=112.0) == {"2.0.0": 1}
    copy = PinTable(idle_seconds=10)
    copy.load(table.dump(now=108.0), now=500.0)
    assert copy.lookup("a", now=501.0) == "1.0.0" and copy.lookup("b", now=501.0) == "2.0.0"
    table.expire(now=120.0)
    assert len(table) == 0



def test_the_live_split_names_the_fallback_version_when_no_weighted_version_can_serve():
    routes = module(stable=100, canary=0)
    routes.backends["stable"].mark_unhealthy("refuses connections")
    assert routes.live_split() == {"stable": 0, "canary": 100}
