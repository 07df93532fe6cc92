"""Property: every state of a returned plan is valid, and a refusal means no order is valid.

The brute-force checker below is written from the rules in issue #2, independently
of ``nahtlos.compat`` and ``nahtlos.planning``: it tries every ordered partition of
the released modules into waves and checks every state of each.
"""

from __future__ import annotations

from itertools import product

from hypothesis import HealthCheck, given, settings, strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nahtlos.planning import plan_release
from tests.core.appbuilder import app

# Skewed towards compatible choices so that plans with several waves are common.
IFACE_VERSIONS = ["1.0.0", "1.0.0", "1.1.0", "1.1.0", "2.0.0"]
RANGES = ["^1.0", "^1.0", ">=1.0,<3", ">=1.1,<2", "^2.0"]
CUR, NEW = "1.0.0", "2.0.0"


def session_specs():
    def build(reads, data):
        reads = sorted(reads | ({1} if data.draw(st.integers(0, 3)) else set()))
        writes = data.draw(st.sampled_from(reads))
        extra = data.draw(st.sets(st.sampled_from(reads)))
        return {"reads": reads, "writes": writes, "can_write": sorted(extra | {writes})}
    return st.builds(build, st.sets(st.sampled_from([1, 2, 3]), min_size=1, max_size=2), st.data())


@st.composite
def applications(draw):
    n = draw(st.integers(min_value=2, max_value=4))
    names = [f"m{i}" for i in range(n)]
    use_sessions = draw(st.booleans())
    modules = {}
    for i, name in enumerate(names):
        versions = {}
        for v in (CUR, NEW):
            spec = {"provides": {f"i{i}": draw(st.one_of(
                st.sampled_from(IFACE_VERSIONS), st.lists(st.sampled_from(IFACE_VERSIONS), min_size=1, max_size=2,
                                                          unique=True)))}}
            consumes = {}
            for j in range(n):
                if draw(st.integers(0, 2)) == 0:
                    consumes[f"i{j}"] = draw(st.sampled_from(RANGES))
            if draw(st.integers(0, 7)) == 0:
                consumes["ext"] = draw(st.sampled_from(RANGES))
            spec["consumes"] = consumes
            if use_sessions and draw(st.booleans()):
                spec["session"] = draw(session_specs())
            versions[v] = spec
        modules[name] = {"deployed": CUR, "versions": versions}
    released = draw(st.sets(st.sampled_from(names), min_size=1))
    return modules, sorted(released)


# --- the independent checker ----------------------------------------------------------

def ok(consumer_spec, provider_spec, provider_index):
    iface = f"i{provider_index}"
    if iface not in consumer_spec["consumes"]:
        return True
    offered = provider_spec["provides"].get(iface)
    offered = offered if isinstance(offered, list) else [offered] if offered else []
    spec = SpecifierSet(">=" + consumer_spec["consumes"][iface][1:] + ",<" + caret_upper(consumer_spec["consumes"][iface])
                        if consumer_spec["consumes"][iface].startswith("^") else consumer_spec["consumes"][iface])
    return any(Version(v) in spec for v in offered)


def caret_upper(r):
    major, minor = (int(x) for x in r[1:].split("."))
    return f"{major + 1}" if major else f"0.{minor + 1}"


def writable(s):
    return set(s.get("can_write") or [s["writes"]])


def newest_common(specs):
    if not specs:
        return None
    common = set.intersection(*(writable(s) for s in specs))
    return max(common) if common else None


def ordered_partitions(items):
    if not items:
        yield []
        return
    n = len(items)
    for labels in product(range(n), repeat=n):
        used = sorted(set(labels))
        if used != list(range(len(used))):
            continue
        yield [[items[i] for i in range(n) if labels[i] == w] for w in used]


def valid_order(modules, released, waves, external="4.2.0"):
    """Return the stored session format after each wave, or None if any state is broken."""
    names = sorted(modules)
    index = {m: int(m[1:]) for m in names}

    def running(done, wave):
        return {m: ([CUR, NEW] if m in wave else [NEW] if m in done else [CUR]) if m in released else [CUR]
                for m in names}

    def sessions(run):
        return [modules[m]["versions"][v]["session"] for m in names for v in run[m]
                if "session" in modules[m]["versions"][v]]

    stored = newest_common(sessions(running(set(), [])))
    has_sessions = any("session" in modules[m]["versions"][v] for m in names for v in (CUR, NEW)
                       if m in released or v == CUR)
    if has_sessions and stored is None:
        return None
    formats = []
    done: set[str] = set()
    for wave in waves:
        run = running(done, wave)
        for c in names:
            for p in names:
                for x in run[c]:
                    for y in run[p]:
                        if (x == NEW and c in released) or (y == NEW and p in released):
                            if not ok(modules[c]["versions"][x], modules[p]["versions"][y], index[p]):
                                return None
        for m in names:
            for v in run[m]:
                spec = modules[m]["versions"][v]
                if v == NEW and "ext" in spec["consumes"] and Version(external) not in SpecifierSet(
                        spec["consumes"]["ext"] if not spec["consumes"]["ext"].startswith("^")
                        else ">=" + spec["consumes"]["ext"][1:] + ",<" + caret_upper(spec["consumes"]["ext"])):
                    return None
        specs = sessions(run)
        if specs:
            if any(stored not in s["reads"] for s in specs) or newest_common(specs) is None:
                return None
        done |= set(wave)
        after = sessions(running(done, []))
        if after:
            stored = newest_common(after)
            if stored is None:
                return None
        formats.append(stored if has_sessions else None)
    # the final state (everything new) was checked as part of the last wave's "done" only for
    # sessions; check the interfaces of the final state too
    run = running(done, [])
    for c in names:
        for p in names:
            if not ok(modules[c]["versions"][run[c][0]], modules[p]["versions"][run[p][0]], index[p]):
                if c in released or p in released:
                    return None
    return formats


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applications())
def test_plans_are_valid_in_every_state_and_refusals_mean_no_order_exists(case):
    modules, released = case
    application = app(modules, external={"ext": "4.2.0"})
    plan = plan_release(application, {m: NEW for m in released})
    if plan.releasable:
        assert sorted(m for wave in plan.waves for m in wave) == released
        formats = valid_order(modules, set(released), plan.waves)
        assert formats is not None, f"plan {plan.waves} has a broken state"
        assert plan.session_formats == formats
    else:
        for waves in ordered_partitions(released):
            assert valid_order(modules, set(released), waves) is None, \
                f"refused ({plan.reasons}) but {waves} is a valid order"
