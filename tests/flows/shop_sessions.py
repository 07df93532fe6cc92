"""Session formats of the test shop: format 2 renames ``name`` to ``display_name``."""

from __future__ import annotations

from typing import Any


def migrate(record: dict[str, Any], to_schema: int) -> dict[str, Any]:
    schema = record.get("schema")
    if schema not in (1, 2) or to_schema not in (1, 2):
        raise ValueError(f"unknown schema {schema} -> {to_schema}")
    if "cart" not in record:
        raise ValueError("record has no cart")
    out = dict(record)
    if schema == 1 and to_schema == 2:
        out["display_name"] = out.pop("name")
    elif schema == 2 and to_schema == 1:
        out["name"] = out.pop("display_name")
    out["schema"] = to_schema
    return out
