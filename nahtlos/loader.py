"""Load descriptors from YAML with errors that name the file, the path and the line.

Every failure, whatever the input, becomes one ``DescriptorError``: an
unreadable file, YAML syntax, duplicate keys, or a schema violation. Values
from the document are never echoed beyond the offending key names, so a
descriptor that holds a secret by mistake does not leak it into logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nahtlos.descriptor import Application
from nahtlos.errors import DescriptorError


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key; the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_application(path: str | Path) -> Application:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DescriptorError("file not found", file=str(path), hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DescriptorError(f"cannot read the file ({type(exc).__name__})", file=str(path)) from None
    return parse_application(text, source=str(path))


def parse_application(text: str, *, source: str = "<descriptor>") -> Application:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise DescriptorError(f"invalid YAML: {exc.problem or exc.context}", file=source, line=line) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise DescriptorError(f"invalid YAML ({type(exc).__name__})", file=source) from None
    if not isinstance(data, dict):
        raise DescriptorError(
            "the document must be a mapping with apiVersion, kind, name and modules",
            file=source, line=1, hint="see deployments/buergerservice.yaml")
    try:
        return Application.model_validate(data)
    except ValidationError as exc:
        raise _descriptor_error(exc, text, source) from None
    except RecursionError:
        raise DescriptorError("document is nested too deeply", file=source) from None


def _descriptor_error(exc: ValidationError, text: str, source: str) -> DescriptorError:
    first = exc.errors(include_input=False, include_url=False)[0]
    loc = [str(p) for p in first["loc"] if p != "[key]"]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r}" if loc else "unknown field"
    elif first["type"] == "missing":
        message = f"required field {loc[-1]!r} is missing" if loc else "a required field is missing"
    more = exc.error_count() - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    line, found = _locate(text, loc)
    if found < len(loc) and loc[-1].isdigit():
        loc = loc[:-1]  # a single value we turned into a list: point at the value itself
    return DescriptorError(message, file=source, path=".".join(loc), line=line)


def _locate(text: str, loc: list[str]) -> tuple[int | None, int]:
    """1-based line of the deepest node along ``loc`` that exists in the YAML, and how many parts matched."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None, 0
    line = node.start_mark.line + 1 if node else None
    found = 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
        found += 1
    return line, found
