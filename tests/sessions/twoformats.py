"""A small application-owned session migration with two formats, for the session tests.

Format 1 (old gateway)::

    {"schema": 1, "user": {"id", "name", "email"}, "drafts": {form_id: {page: {field: value}}},
     "csrf": str, "tokens": {...}}

Format 2 (new gateway)::

    {"schema": 2, "account": {"id", "display_name", "email"}, "drafts": [{"form": id, "pages": {...}}],
     "csrf": str, "tokens": {...}}

Both directions are lossless. ``migrate`` follows the Python migration contract:
it raises ValueError with a reason that never contains record contents.
"""

from __future__ import annotations

import random
from typing import Any

USER_FIELDS = ["drafts", "account"]
FORMS = ["wohnsitz-anmelden", "parkausweis", "hundesteuer", "kita-platz", "gewerbe-anmelden"]


def _to_2(record: dict[str, Any]) -> dict[str, Any]:
    user, drafts = record.get("user"), record.get("drafts")
    if not isinstance(user, dict) or not isinstance(drafts, dict):
        raise ValueError("format 1 needs a 'user' object and a 'drafts' object")
    out = {k: v for k, v in record.items() if k not in ("user", "drafts")}
    out["schema"] = 2
    out["account"] = {"id": user.get("id"), "display_name": user.get("name"), "email": user.get("email")}
    out["drafts"] = [{"form": form, "pages": pages} for form, pages in sorted(drafts.items())]
    return out


def _to_1(record: dict[str, Any]) -> dict[str, Any]:
    account, drafts = record.get("account"), record.get("drafts")
    if not isinstance(account, dict) or not isinstance(drafts, list):
        raise ValueError("format 2 needs an 'account' object and a 'drafts' list")
    forms = [d.get("form") for d in drafts if isinstance(d, dict)]
    if len(forms) != len(drafts) or len(set(forms)) != len(forms):
        raise ValueError("format 2 drafts must name each form once")
    out = {k: v for k, v in record.items() if k not in ("account", "drafts")}
    out["schema"] = 1
    out["user"] = {"id": account.get("id"), "name": account.get("display_name"), "email": account.get("email")}
    out["drafts"] = {d["form"]: d.get("pages", {}) for d in drafts}
    return out


def migrate(record: dict[str, Any], to_schema: int) -> dict[str, Any]:
    schema = record.get("schema")
    if schema not in (1, 2):
        raise ValueError(f"unknown schema version {schema!r}" if isinstance(schema, int) else "no schema version")
    if to_schema not in (1, 2):
        raise ValueError(f"cannot migrate to schema {to_schema}")
    if schema == to_schema:
        (_to_2 if schema == 1 else _to_1)(record)  # validates
        return record
    return _to_2(record) if to_schema == 2 else _to_1(record)


def session_v1(index: int, *, rng: random.Random, size: int = 2000) -> dict[str, Any]:
    """A format-1 session of about ``size`` bytes of JSON with half-filled forms."""
    drafts: dict[str, dict[str, dict[str, str]]] = {}
    for form in rng.sample(FORMS, 2):
        drafts[form] = {f"page-{p}": {"vorname": f"Name{index}", "strasse": f"Weg {rng.randint(1, 200)}",
                                      "plz": f"80{rng.randint(100, 999)}"} for p in range(1, 3)}
    record = {"schema": 1, "csrf": f"csrf-{index:08d}",
              "user": {"id": f"u{index}", "name": f"Buerger {index}", "email": f"b{index}@example.org"},
              "drafts": drafts, "tokens": {"access": "", "refresh": f"rt-{index}"}}
    padding = max(0, size - len(str(record)))
    record["tokens"]["access"] = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=padding))
    return record


def set_note(record: dict[str, Any], note: str) -> dict[str, Any]:
    """A user typing into the first draft's 'notes' page, in whichever format the record is."""
    drafts = record["drafts"]
    if record["schema"] == 1:
        first = sorted(drafts)[0]
        drafts[first].setdefault("notes", {})["text"] = note
    else:
        drafts[0]["pages"].setdefault("notes", {})["text"] = note
    return record


def note_of(record: dict[str, Any]) -> str | None:
    drafts = record["drafts"]
    pages = drafts[sorted(drafts)[0]] if record["schema"] == 1 else drafts[0]["pages"]
    return pages.get("notes", {}).get("text")
