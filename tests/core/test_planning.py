from typing import Any

import pytest

from nahtlos.errors import UnknownObject
from nahtlos.planning import plan_release

from tests.core.appbuilder import app, module


def provider_consumer(*, p_new: Any, c_old_range: str, c_new_range: str, p_old: str = "1.0.0"):
    return app({
        "prov": module("1.0.0", v1_0_0={"provides": {"api": p_old}}, v2_0_0={"provides": {"api": p_new}}),
        "cons": module("1.0.0", v1_0_0={"consumes": {"api": c_old_range}}, v2_0_0={"consumes": {"api": c_new_range}}),
    })


def test_additive_provider_change_goes_before_the_consumer_that_needs_it():
    a = provider_consumer(p_new="1.1.0", c_old_range="^1.0", c_new_range=">=1.1,<2")
    plan = plan_release(a, {"prov": "2.0.0", "cons": "2.0.0"})
    assert plan.releasable
    assert plan.waves == [["prov"], ["cons"]]
    assert plan.constraints[0].before == "prov" and plan.constraints[0].interface == "api"
    assert "cons 2.0.0 needs api >=1.1,<2" in plan.constraints[0].reason


def test_compatible_both_ways_puts_provider_and_consumer_in_one_wave():
    a = provider_consumer(p_new="1.1.0", c_old_range="^1.0", c_new_range="^1.0")
    plan = plan_release(a, {"prov": "2.0.0", "cons": "2.0.0"})
    assert plan.waves == [["cons", "prov"]]
    assert plan.constraints == []


def test_consumer_goes_first_when_it_already_accepts_the_new_major():
    a = provider_consumer(p_new="2.0.0", c_old_range="^1.0", c_new_range=">=1.0,<3")
    plan = plan_release(a, {"prov": "2.0.0", "cons": "2.0.0"})
    assert plan.waves == [["cons"], ["prov"]]


def test_breaking_change_without_expand_step_is_refused_with_the_expand_contract_hint():
    a = provider_consumer(p_new="2.0.0", c_old_range="^1.0", c_new_range="^2.0")
    plan = plan_release(a, {"prov": "2.0.0", "cons": "2.0.0"})
    assert not plan.releasable
    reason = plan.reasons[0]
    assert "cons" in reason and "prov" in reason and "api" in reason
    assert ">=1.0,<2" in reason and ">=2.0,<3" in reason and "expand/contract" in reason


def test_provider_serving_both_majors_makes_the_breaking_change_releasable():
    a = provider_consumer(p_new=["1.5.0", "2.0.0"], c_old_range="^1.0", c_new_range="^2.0")
    plan = plan_release(a, {"prov": "2.0.0", "cons": "2.0.0"})
    assert plan.waves == [["prov"], ["cons"]]


def test_unchanged_consumer_broken_by_provider_is_refused():
    a = provider_consumer(p_new="2.0.0", c_old_range="^1.0", c_new_range="^2.0")
    plan = plan_release(a, {"prov": "2.0.0"})
    assert not plan.releasable
    assert "cons is not part of this release" in plan.reasons[0]


def test_released_consumer_needing_more_than_the_unchanged_provider_offers_is_refused():
    a = provider_consumer(p_new="1.1.0", c_old_range="^1.0", c_new_range=">=1.1,<2")
    plan = plan_release(a, {"cons": "2.0.0"})
    assert not plan.releasable
    assert "add prov to the release" in plan.reasons[0]


def test_final_state_must_be_compatible():
    a = provider_consumer(p_new="3.0.0", c_old_range=">=1.0", c_new_range="^2.0")
    plan = plan_release(a, {"prov": "2.0.0", "cons": "2.0.0"})
    assert not plan.releasable
    assert plan.reasons[0].startswith("after the release")


def test_missing_interface_in_new_provider_version_is_a_violation():
    a = app({
        "prov": module("1.0.0", v1_0_0={"provides": {"api": "1.0.0", "old-api": "1.0.0"}},
                       v2_0_0={"provides": {"api": "1.0.0"}}),
        "cons": module("1.0.0", v1_0_0={"consumes": {"old-api": "^1.0"}}),
    })
    plan = plan_release(a, {"prov": "2.0.0"})
    assert not plan.releasable
    assert "serves old-api nothing" in plan.reasons[0]


def test_precedence_cycle_is_refused_and_printed():
    a = app({
        "a": module("1.0.0", v1_0_0={"provides": {"a-api": "1.0.0"}, "consumes": {"b-api": "^1.0"}},
                    v2_0_0={"provides": {"a-api": "1.1.0"}, "consumes": {"b-api": "^1.1"}}),
        "b": module("1.0.0", v1_0_0={"provides": {"b-api": "1.0.0"}, "consumes": {"a-api": "^1.0"}},
                    v2_0_0={"provides": {"b-api": "1.1.0"}, "consumes": {"a-api": "^1.1"}}),
    })
    plan = plan_release(a, {"a": "2.0.0", "b": "2.0.0"})
    assert not plan.releasable
    assert "cycle" in plan.reasons[0] and ("a -> b -> a" in plan.reasons[0] or "b -> a -> b" in plan.reasons[0])


def test_cyclic_consumption_without_cyclic_precedence_is_fine():
    a = app({
        "a": module("1.0.0", v1_0_0={"provides": {"a-api": "1.0.0"}, "consumes": {"b-api": "^1.0"}},
                    v2_0_0={"provides": {"a-api": "1.1.0"}, "consumes": {"b-api": "^1.0"}}),
        "b": module("1.0.0", v1_0_0={"provides": {"b-api": "1.0.0"}, "consumes": {"a-api": "^1.0"}},
                    v2_0_0={"provides": {"b-api": "1.1.0"}, "consumes": {"a-api": "^1.0"}}),
    })
    plan = plan_release(a, {"a": "2.0.0", "b": "2.0.0"})
    assert plan.waves == [["a", "b"]]
    assert plan.blast_radius == {"a": ["b"], "b": ["a"]}


def test_external_interfaces_are_checked_against_their_declared_version():
    a = app({"pay": module("1.0.0", v1_0_0={"consumes": {"epay": "^4.0"}}, v2_0_0={"consumes": {"epay": "^5.0"}})},
            external={"epay": "4.2.0"})
    assert plan_release(a, {"pay": "1.0.0"}).releasable
    plan = plan_release(a, {"pay": "2.0.0"})
    assert not plan.releasable and "external epay" in plan.reasons[0]


def test_modules_already_at_their_target_are_not_part_of_the_plan():
    a = provider_consumer(p_new="1.1.0", c_old_range="^1.0", c_new_range=">=1.1,<2")
    plan = plan_release(a, {"prov": "2.0.0", "cons": "1.0.0"})
    assert plan.waves == [["prov"]] and list(plan.changes) == ["prov"]


def test_unknown_module_or_version_in_the_request_is_invalid_input():
    a = provider_consumer(p_new="1.1.0", c_old_range="^1.0", c_new_range="^1.0")
    with pytest.raises(UnknownObject, match="no module 'nope'"):
        plan_release(a, {"nope": "1.0.0"})
    with pytest.raises(UnknownObject, match="known versions: 1.0.0, 2.0.0"):
        plan_release(a, {"prov": "9.9.9"})


def test_blast_radius_is_transitive_and_sorted():
    a = app({
        "db": module("1.0.0", v1_0_0={"provides": {"db-api": "1.0.0"}}, v1_1_0={"provides": {"db-api": "1.1.0"}}),
        "svc": module("1.0.0", v1_0_0={"provides": {"svc-api": "1.0.0"}, "consumes": {"db-api": "^1.0"}}),
        "web": module("1.0.0", v1_0_0={"consumes": {"svc-api": "^1.0"}}),
        "alone": module("1.0.0", v1_0_0={}),
    })
    plan = plan_release(a, {"db": "1.1.0"})
    assert plan.blast_radius == {"db": ["svc", "web"]}
    assert plan.wave_blast_radius(0) == ["db", "svc", "web"]


def test_waves_are_topological_generations_sorted_by_name():
    a = app({
        "base": module("1.0.0", v1_0_0={"provides": {"base-api": "1.0.0"}}, v2_0_0={"provides": {"base-api": "1.1.0"}}),
        "zeta": module("1.0.0", v1_0_0={"consumes": {"base-api": "^1.0"}}, v2_0_0={"consumes": {"base-api": "^1.1"}}),
        "alpha": module("1.0.0", v1_0_0={"consumes": {"base-api": "^1.0"}}, v2_0_0={"consumes": {"base-api": "^1.1"}}),
        "free": module("1.0.0", v1_0_0={}, v2_0_0={}),
    })
    plan = plan_release(a, {"base": "2.0.0", "zeta": "2.0.0", "alpha": "2.0.0", "free": "2.0.0"})
    assert plan.waves == [["base", "free"], ["alpha", "zeta"]]


# --- session formats ---------------------------------------------------------------

def session_app(gw_new: dict, portal_new: dict | None = None, portal_old: dict | None = None):
    return app({
        "gw": module("1.0.0", v1_0_0={"session": {"reads": [1], "writes": 1}}, v2_0_0={"session": gw_new}),
        "portal": module("1.0.0", v1_0_0={"session": portal_old or {"reads": [1], "writes": 1}},
                         v2_0_0={"session": portal_new or {"reads": [1], "writes": 1}}),
    })


def test_session_format_change_keeps_writing_the_old_format_until_the_wave_is_promoted():
    a = session_app({"reads": [1, 2], "writes": 2, "can_write": [1, 2]},
                    portal_old={"reads": [1, 2], "writes": 1, "can_write": [1, 2]})
    plan = plan_release(a, {"gw": "2.0.0"})
    assert plan.releasable
    step = plan.session_steps[0]
    assert (step.stored_before, step.write_during, step.stored_after) == (1, 1, 2)
    assert plan.session_formats == [2]


def test_store_stays_on_the_old_format_while_another_module_cannot_read_the_new_one():
    a = session_app({"reads": [1, 2], "writes": 2, "can_write": [1, 2]})
    plan = plan_release(a, {"gw": "2.0.0"})
    assert plan.releasable and plan.session_formats == [1]


def test_new_version_that_cannot_read_the_stored_format_is_refused_naming_modules_and_formats():
    a = session_app({"reads": [2], "writes": 2})
    plan = plan_release(a, {"gw": "2.0.0"})
    assert not plan.releasable
    assert "gw 2.0.0 cannot read session format 1" in " ".join(plan.reasons)


def test_no_common_writable_format_is_refused():
    a = session_app({"reads": [1, 2], "writes": 2})
    plan = plan_release(a, {"gw": "2.0.0"})
    assert not plan.releasable
    assert "no session format all running versions can write" in " ".join(plan.reasons)


def test_session_module_waits_for_a_later_wave_when_its_format_needs_the_store_to_move_first():
    # portal 2.0.0 reads only format 2; gw 2.0.0 moves the store to 2 once promoted.
    a = session_app({"reads": [1, 2], "writes": 2, "can_write": [1, 2]},
                    portal_old={"reads": [1, 2], "writes": 1, "can_write": [1, 2]},
                    portal_new={"reads": [2], "writes": 2})
    plan = plan_release(a, {"gw": "2.0.0", "portal": "2.0.0"})
    assert plan.releasable
    assert plan.waves == [["gw"], ["portal"]]
    assert plan.session_formats == [2, 2]
    assert any(c.after == "portal" and c.interface is None for c in plan.constraints)


def test_plan_without_session_modules_has_no_session_formats():
    a = provider_consumer(p_new="1.1.0", c_old_range="^1.0", c_new_range="^1.0")
    plan = plan_release(a, {"prov": "2.0.0"})
    assert plan.session_steps == [] and plan.session_formats == [None]
    assert plan.as_json()["session_formats"] == [None]
