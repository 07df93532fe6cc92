"""Semantic versions and interface version ranges as the descriptor spells them.

Versions are strict ``X.Y.Z`` strings. Ranges are PEP 440 specifier sets
(``>=2.1,<3``) or the caret shorthand (``^2.1`` = ``>=2.1,<3``; ``^0.3`` =
``>=0.3,<0.4``). A YAML number where a version belongs (``2.0`` read as a
float) is rejected with a message that says so, never converted.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from pydantic import BeforeValidator

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CARET = re.compile(r"^\^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$")


def _not_a_number(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str):
        shown = repr(value) if not isinstance(value, (int, float)) else str(value)
        raise ValueError(
            f"{what} must be a quoted string, but YAML read {shown} as a {type(value).__name__}; "
            "write it in quotes with all three parts, e.g. \"2.0.0\""
        )


def check_semver(value: Any) -> str:
    _not_a_number(value, "a version")
    if not SEMVER.match(value):
        raise ValueError(f"version {value!r} is not a semantic version X.Y.Z (e.g. \"2.1.0\")")
    return value


def check_dns_label(value: Any) -> str:
    _not_a_number(value, "a name")
    if not DNS_LABEL.match(value):
        raise ValueError(
            f"name {value!r} is not a DNS-1123 label (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def caret_to_pep440(text: str) -> str:
    """``^2.1`` -> ``>=2.1,<3``; ``^0.3`` -> ``>=0.3,<0.4``; ``^0.0.3`` -> ``>=0.0.3,<0.0.4``."""
    m = _CARET.match(text.strip())
    if not m:
        raise ValueError(f"range {text!r} is not a caret range like ^2.1")
    parts = [int(p) for p in m.groups() if p is not None]
    lower = ".".join(str(p) for p in parts)
    # The upper bound bumps the first non-zero component (or the last given one).
    bump = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
    upper = parts[: bump + 1]
    upper[bump] += 1
    return f">={lower},<{'.'.join(str(p) for p in upper)}"


def check_range(value: Any) -> str:
    _not_a_number(value, "a version range")
    text = value.strip()
    pep440 = caret_to_pep440(text) if text.startswith("^") else text
    try:
        spec = SpecifierSet(pep440)
    except InvalidSpecifier:
        raise ValueError(
            f"range {value!r} is neither a PEP 440 specifier (e.g. \">=2.1,<3\") nor a caret range (e.g. \"^2.1\")"
        ) from None
    if not str(spec):
        raise ValueError("a version range must not be empty; use \">=0\" to accept any version")
    return pep440


@lru_cache(maxsize=65536)
def _spec(text: str) -> SpecifierSet:
    return SpecifierSet(text)


@lru_cache(maxsize=65536)
def _version(text: str) -> Version:
    return Version(text)


def in_range(version: str, range_: str) -> bool:
    """True when ``version`` satisfies the (already normalised) range."""
    return _spec(range_).contains(_version(version), prereleases=True)


def version_key(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in version.split("."))
    return major, minor, patch


def slug(version: str) -> str:
    """A version usable in Kubernetes names: ``2.0.0`` -> ``2-0-0``."""
    return version.replace(".", "-")


SemVer = Annotated[str, BeforeValidator(check_semver)]
VersionRange = Annotated[str, BeforeValidator(check_range)]
DnsLabel = Annotated[str, BeforeValidator(check_dns_label)]
