"""Build small Application descriptors in tests without YAML."""

from __future__ import annotations

from typing import Any

from nahtlos.descriptor import Application


def module(deployed: str, **versions: dict[str, Any]) -> dict[str, Any]:
    """``module("1.0.0", v1_0_0={...}, v2_0_0={...})``: version keys with ``_`` for ``.``."""
    return {"deployed": deployed, "versions": {k.lstrip("v").replace("_", "."): v for k, v in versions.items()}}


def app(modules: dict[str, Any], **extra: Any) -> Application:
    return Application.model_validate({"apiVersion": "nahtlos/v1", "kind": "Application", "name": "demo",
                                       "modules": modules, **extra})
