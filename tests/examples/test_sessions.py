"""The Buergerservice session formats and ``migrate`` (contract 3, Python migration)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examples.buergerservice.sessions import migrate, validate

SECRET = "Geheimnis-4711"

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
values = st.text(max_size=20)
format_1 = st.fixed_dictionaries({
    "schema": st.just(1),
    "created": st.floats(0, 2e9),
    "user": st.fixed_dictionaries({"id": names, "name": values, "email": values, "language": st.sampled_from(["de", "en"])}),
    "drafts": st.dictionaries(names, st.fixed_dictionaries({
        "fields": st.dictionaries(st.builds(lambda p, f: f"{p}.{f}", names, names), values, max_size=6),
        "updated": st.floats(0, 2e9)}), max_size=3),
})


def session_v1() -> dict:
    return {"schema": 1, "created": 1700000000.0,
            "user": {"id": "buerger00001", "name": "Erika Mustermann", "email": "e@example.org", "language": "de"},
            "drafts": {"residence-registration": {
                "fields": {"personal.first_name": "Erika", "address.postcode": "80331"}, "updated": 1700000100.0}}}


def test_format_1_goes_up_to_format_2_with_renamed_fields_and_drafts_grouped_by_page():
    upgraded = migrate(session_v1(), 2)
    assert upgraded["schema"] == 2 and "user" not in upgraded
    assert upgraded["account"]["display_name"] == "Erika Mustermann"
    assert upgraded["drafts"] == {"residence-registration": [{
        "form": "residence-registration", "pages": {"personal": {"first_name": "Erika"},
                                                    "address": {"postcode": "80331"}}, "updated": 1700000100.0}]}


def test_a_round_trip_1_to_2_to_1_keeps_every_user_field():
    original = session_v1()
    assert migrate(migrate(copy.deepcopy(original), 2), 1) == original


@settings(max_examples=60, deadline=None)
@given(format_1)
def test_any_valid_format_1_record_survives_the_round_trip(record):
    assert migrate(migrate(record, 2), 1) == validate(record, 1)


def test_migrating_to_the_same_schema_validates_and_returns_it():
    assert migrate(session_v1(), 1) == session_v1()


def test_two_drafts_of_one_form_cannot_go_down_to_format_1():
    record = migrate(session_v1(), 2)
    entry = record["drafts"]["residence-registration"][0]
    record["drafts"]["residence-registration"].append({**entry, "updated": 1.0})
    with pytest.raises(ValueError, match="one draft per form"):
        migrate(record, 1)


@pytest.mark.parametrize("broken, reason", [
    ({"schema": 3}, "unknown session schema"),
    ({"schema": True}, "unknown session schema"),
    ([], "JSON object"),
    ({**session_v1(), "user": {"id": SECRET}}, "user.name"),
    ({**session_v1(), SECRET: 1}, "Extra inputs are not permitted"),
    ({**session_v1(), "drafts": {SECRET: {"fields": {"nodot": SECRET}, "updated": 1.0}}}, "<key>"),
])
def test_invalid_records_raise_a_reason_that_never_contains_their_contents(broken, reason):
    with pytest.raises(ValueError) as raised:
        migrate(broken, 2)
    assert reason in str(raised.value)
    assert SECRET not in str(raised.value)


def test_an_unknown_target_schema_is_refused():
    with pytest.raises(ValueError, match="unknown target schema"):
        migrate(session_v1(), 7)


def test_a_format_2_draft_whose_form_differs_from_its_key_is_invalid():
    record = migrate(session_v1(), 2)
    record["drafts"]["residence-registration"][0]["form"] = "dog-licence"
    with pytest.raises(ValueError, match="form must equal"):
        migrate(record, 1)
