"""The run.local and routing models, and how placeholders become a command line and environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nahtlos.errors import DescriptorError
from nahtlos.loader import parse_application
from nahtlos.platforms.local.spec import (LocalRunSpec, Placeholders, RoutingSpec, process_command,
                                          process_environment, service_env_name)

VALUES = Placeholders(port=4711, version="1.2.0", module="forms-api", app="shop", python="/usr/bin/python3",
                      state_dir="/state", service_urls={"forms-api": "http://127.0.0.1:9001",
                                                        "registry": "http://127.0.0.1:9002"},
                      environ={"REDIS_URL": "redis://127.0.0.1:6379/0", "HOME": "/root"})


def test_every_placeholder_is_expanded_in_the_command_and_the_environment():
    spec = LocalRunSpec(command=["{python}", "-m", "app", "{module}", "--version", "{version}", "--port", "{port}",
                                 "--state", "{state_dir}/{app}", "--literal", "{{not-a-placeholder}}"],
                        env={"REDIS_URL": "{env:REDIS_URL}", "REGISTRY": "{url:registry}/api"})
    assert process_command(spec, VALUES) == [
        "/usr/bin/python3", "-m", "app", "forms-api", "--version", "1.2.0", "--port", "4711",
        "--state", "/state/shop", "--literal", "{not-a-placeholder}"]
    env = process_environment(spec, VALUES)
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/0" and env["REGISTRY"] == "http://127.0.0.1:9002/api"
    assert (env["PORT"], env["NAHTLOS_APP"], env["NAHTLOS_MODULE"], env["NAHTLOS_VERSION"]) == (
        "4711", "shop", "forms-api", "1.2.0")
    assert env["FORMS_API_SERVICE_URL"] == "http://127.0.0.1:9001"
    assert env["REGISTRY_SERVICE_URL"] == "http://127.0.0.1:9002"
    assert env["HOME"] == "/root"  # the daemon's environment is inherited


def test_service_variables_are_named_like_kubernetes_service_variables():
    assert service_env_name("forms-api") == "FORMS_API_SERVICE_URL"


@pytest.mark.parametrize("template, error", [
    ("{env:NOT_SET}", "not set in the platform daemon's environment"),
    ("{url:nowhere}", "names no module"),
])
def test_placeholders_that_cannot_be_filled_name_what_is_missing(template, error):
    spec = LocalRunSpec(command=["app", template])
    with pytest.raises(KeyError, match=error):
        process_command(spec, VALUES)


@pytest.mark.parametrize("field, error", [
    ({"command": "python -m app"}, "must be a list"),
    ({"command": []}, "at least 1"),
    ({"command": ["app", "{prot}"]}, "unknown placeholder {prot}"),
    ({"command": ["app", "{port"]}, "unbalanced brace"),
    ({"command": ["app"], "ready": "healthz"}, "must be a URL path"),
    ({"command": ["app"], "ready_timeout": 0}, "greater than 0"),
    ({"command": ["app"], "restart": "always"}, "Extra inputs are not permitted"),
])
def test_a_bad_run_local_section_is_rejected_at_load_time(field, error):
    with pytest.raises(ValidationError, match=error):
        LocalRunSpec.model_validate(field)


def test_routing_defaults_and_cookie_name_validation():
    assert RoutingSpec() == RoutingSpec(session_cookie=None, pin_idle_seconds=1800, entry_port=0)
    with pytest.raises(ValidationError, match="not a valid cookie name"):
        RoutingSpec(session_cookie="bad cookie;")


def test_the_descriptor_carries_run_local_and_routing_with_line_aware_errors():
    text = """apiVersion: nahtlos/v1
kind: Application
name: shop
routing: {session_cookie: bs_session, pin_idle_seconds: 60}
modules:
  web:
    deployed: 1.0.0
    versions: {1.0.0: {}}
    run:
      local:
        command: ["{python}", "-m", "web", "--port", "{port}"]
        stop_grace: 3
"""
    app = parse_application(text)
    assert app.routing.session_cookie == "bs_session"
    assert app.modules["web"].run.local.stop_grace == 3
    with pytest.raises(DescriptorError) as caught:
        parse_application(text.replace('"{port}"', '"{porrt}"'))
    assert caught.value.line == 11 and "unknown placeholder {porrt}" in str(caught.value)
