import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from nahtlos.errors import DescriptorError
from nahtlos.loader import load_application, parse_application

GOOD = textwrap.dedent("""\
    apiVersion: nahtlos/v1
    kind: Application
    name: shop
    external: {epay: "4.2.0"}
    modules:
      forms:
        deployed: 1.4.0
        versions:
          1.4.0:
            provides: {forms-api: 1.4.0}
            consumes: {registry-api: ">=2.0,<3", epay: ^4}
          2.0.0:
            provides: {forms-api: [1.5.0, 2.0.0]}
            consumes: {registry-api: ^2.1}
            session: {reads: [1, 2], writes: 2, can_write: [1, 2]}
      registry:
        deployed: 2.0.0
        versions:
          2.0.0:
            provides: {registry-api: 2.0.0}
    """)


def error_of(text: str) -> DescriptorError:
    with pytest.raises(DescriptorError) as info:
        parse_application(text, source="app.yaml")
    return info.value


def test_a_valid_descriptor_loads_with_normalised_ranges_and_version_lists():
    app = parse_application(GOOD)
    forms = app.modules["forms"]
    assert forms.versions["2.0.0"].provides == {"forms-api": ("1.5.0", "2.0.0")}
    assert forms.versions["2.0.0"].consumes == {"registry-api": ">=2.1,<3"}
    assert forms.versions["1.4.0"].consumes["epay"] == ">=4,<5"
    assert forms.versions["2.0.0"].session.writable == {1, 2}
    assert forms.versions["1.4.0"].session is None


def test_models_are_frozen():
    app = parse_application(GOOD)
    with pytest.raises(Exception):
        app.modules["forms"].deployed = "2.0.0"


def test_the_shipped_example_loads():
    app = load_application("deployments/buergerservice.yaml")
    assert 8 <= len(app.modules) <= 10


@pytest.mark.parametrize("caret, pep440", [("^2.1", ">=2.1,<3"), ("^0.3", ">=0.3,<0.4"), ("^2", ">=2,<3"),
                                           ("^0.0.3", ">=0.0.3,<0.0.4"), ("^1.2.3", ">=1.2.3,<2")])
def test_caret_ranges_mean_the_same_major(caret, pep440):
    app = parse_application(GOOD.replace("^2.1", caret))
    assert app.modules["forms"].versions["2.0.0"].consumes["registry-api"] == pep440


def test_a_version_read_as_a_float_is_an_error_that_says_so():
    err = error_of(GOOD.replace("deployed: 2.0.0", "deployed: 2.0"))
    assert "YAML read 2.0 as a float" in str(err)
    assert err.path == "modules.registry.deployed" and err.line == 17


def test_an_interface_version_read_as_a_number_is_an_error_too():
    err = error_of(GOOD.replace("{registry-api: 2.0.0}", "{registry-api: 2.0}"))
    assert err.path == "modules.registry.versions.2.0.0.provides.registry-api"
    assert "float" in str(err)


def test_a_bad_range_names_the_document_path_and_line():
    err = error_of(GOOD.replace('">=2.0,<3"', '"=>2.0"'))
    assert err.path == "modules.forms.versions.1.4.0.consumes.registry-api"
    assert err.line == 11
    assert str(err).startswith("app.yaml:11: modules.forms.versions.1.4.0.consumes.registry-api: range")


@pytest.mark.parametrize("change, message", [
    (("name: shop", "name: Shop_App"), "DNS-1123"),
    (("forms:", "Forms:"), "DNS-1123"),
    (("deployed: 1.4.0", "deployed: 1.9.0"), "deployed version 1.9.0 is not listed"),
    (("kind: Application", "kind: App"), "kind"),
    (("name: shop", "name: shop\ncolour: blue"), "unknown field 'colour'"),
    (("{registry-api: 2.0.0}", "{forms-api: 2.0.0}"), "provided by both"),
    (("{registry-api: ^2.1}", "{billing-api: ^2.1}"), "no module provides"),
    (("writes: 2, can_write: [1, 2]", "writes: 3"), "which this version does not read"),
    (("writes: 2, can_write: [1, 2]", "writes: 2, can_write: [1]"), "must be one of can_write"),
    (("provides: {forms-api: 1.4.0}", "provides: {forms-api: 1.4}"), "float"),
    (("2.0.0:\n        provides: {forms", "2.0:\n        provides: {forms"), "float"),
    (("deployed: 2.0.0", "deployed: v2"), "not a semantic version"),
])
def test_schema_errors_are_one_clear_message(change, message):
    err = error_of(GOOD.replace(*change, 1))
    assert message in str(err)
    assert "Traceback" not in str(err)


def test_duplicate_keys_are_refused_with_their_line():
    err = error_of(GOOD.replace("name: shop", "name: shop\nname: other"))
    assert "duplicate key 'name'" in str(err) and err.line == 4


def test_yaml_syntax_errors_carry_the_line():
    err = error_of(GOOD.replace("modules:", "modules: [", 1))
    assert err.line is not None and "invalid YAML" in str(err)


def test_a_missing_file_is_a_descriptor_error(tmp_path):
    with pytest.raises(DescriptorError, match="file not found"):
        load_application(tmp_path / "none.yaml")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc:{}[]-,'\"\n #&*!|>%@`?^0123.\t\\")), max_size=200))
def test_malformed_yaml_never_escapes_as_anything_but_a_descriptor_error(text):
    try:
        parse_application(text)
    except DescriptorError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_descriptors_never_escape_as_anything_but_a_descriptor_error(data):
    lines = GOOD.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "cut", "junk"]))
        if op == "drop":
            lines.pop(i)
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] += data.draw(st.sampled_from([" [", ": 1", " &a", " *a", " !!python/object:os.system", "\t"]))
        if not lines:
            break
    try:
        parse_application("\n".join(lines))
    except DescriptorError as exc:
        assert str(exc)
