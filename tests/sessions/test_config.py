from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from nahtlos.errors import DescriptorError
from nahtlos.loader import parse_application
from nahtlos.sessions.config import SessionsConfig
from tests.sessions.conftest import make_config


def _descriptor_with(sessions: dict) -> str:
    with open("deployments/buergerservice.yaml", encoding="utf-8") as source:
        document = yaml.safe_load(source)
    document["sessions"] = sessions
    return yaml.safe_dump(document)


def test_the_sessions_section_of_a_descriptor_becomes_a_typed_config():
    app = parse_application(_descriptor_with({
        "key_pattern": "session:*", "schema_field": "schema", "format_key": "nahtlos:session-format:buergerservice",
        "user_fields": ["drafts", "account"], "migrations": {"http": {"module": "gateway"}}}))

    assert isinstance(app.sessions, SessionsConfig)
    assert app.sessions.migrations.http.path == "/_nahtlos/sessions/migrate"
    assert app.sessions.key_for("abc") == "session:abc"


def test_a_misspelt_field_in_the_sessions_section_is_a_descriptor_error_naming_it():
    with pytest.raises(DescriptorError, match="sessions.user_field"):
        parse_application(_descriptor_with({"format_key": "nahtlos:f", "user_field": ["drafts"],
                                            "migrations": {"python": "a.b:c"}}))


@pytest.mark.parametrize("overrides, message", [
    ({"migrations": {}}, "exactly one"),
    ({"migrations": {"python": "a.b:migrate", "http": {"module": "gateway"}}}, "exactly one"),
    ({"migrations": {"python": "not a name"}}, "dotted name"),
    ({"migrations": {"http": {"module": "Gateway"}}}, "DNS-1123"),
    ({"format_key": "session:format"}, "format_key 'session:format' matches key_pattern"),
    ({"ended_key": "session:ended"}, "ended_key 'session:ended' matches key_pattern"),
    ({"key_pattern": "session:*:data"}, "literal prefix"),
    ({"user_fields": []}, "at least 1"),
    ({"user_fields": "drafts"}, "list of top-level"),
    ({"user_fields": ["schema"]}, "cannot also be a user field"),
])
def test_an_unusable_sessions_config_is_refused_with_a_reason(overrides, message):
    with pytest.raises(ValidationError, match=message):
        make_config(**overrides)
