"""The Buergerservice user-session formats and the migration between them (contract 3).

A session is one JSON object in Redis under ``session:<id>``; its integer
``schema`` field names the format.

Format 1 (gateway 1.8.0, portal 1.2.0)::

    {"schema": 1, "created": 1700000000.0,
     "user": {"id": "buerger0001", "name": "Erika Mustermann", "email": "...", "language": "de"},
     "drafts": {"residence-registration": {"fields": {"personal.first_name": "Erika"}, "updated": 1700000100.0}}}

Format 2 (gateway 2.0.0): ``user`` is renamed ``account`` and its ``name``
``display_name``; a form maps to a *list* of drafts whose fields are grouped
by page::

    {"schema": 2, "created": ...,
     "account": {"id": ..., "display_name": ..., "email": ..., "language": "de"},
     "drafts": {"residence-registration": [{"form": "residence-registration",
                                            "pages": {"personal": {"first_name": "Erika"}},
                                            "updated": ...}]}}

``migrate(record, to_schema)`` converts up or down and validates the result.
Format 1 holds one draft per form, so a format-2 session with two drafts of
one form cannot go down: that raises ``ValueError``. Reasons never contain
record contents: dict keys are shown as ``<key>``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMAS = (1, 2)
LATEST = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _plain_name(value: str) -> str:
    if not value or "." in value:
        raise ValueError("page and field names must be non-empty and contain no '.'")
    return value


class UserV1(_Model):
    id: str
    name: str
    email: str
    language: str = "de"


class DraftV1(_Model):
    fields: dict[str, str]  # "<page>.<field>" -> value
    updated: float

    @field_validator("fields")
    @classmethod
    def _page_dot_field(cls, fields: dict[str, str]) -> dict[str, str]:
        for key in fields:
            page, _, name = key.partition(".")
            _plain_name(page), _plain_name(name)
        return fields


class SessionV1(_Model):
    schema_: Literal[1] = Field(alias="schema")
    created: float
    user: UserV1
    drafts: dict[str, DraftV1] = Field(default_factory=dict)


class AccountV2(_Model):
    id: str
    display_name: str
    email: str
    language: str = "de"


class DraftV2(_Model):
    form: str
    pages: dict[str, dict[str, str]]  # page -> field -> value
    updated: float

    @field_validator("pages")
    @classmethod
    def _plain_names(cls, pages: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for page, fields in pages.items():
            _plain_name(page)
            for name in fields:
                _plain_name(name)
        return pages


class SessionV2(_Model):
    schema_: Literal[2] = Field(alias="schema")
    created: float
    account: AccountV2
    drafts: dict[str, list[DraftV2]] = Field(default_factory=dict)

    @field_validator("drafts")
    @classmethod
    def _keyed_by_form(cls, drafts: dict[str, list[DraftV2]]) -> dict[str, list[DraftV2]]:
        for form, entries in drafts.items():
            if not entries:
                raise ValueError("a form key must hold at least one draft")
            if any(entry.form != form for entry in entries):
                raise ValueError("a draft's form must equal the key it is stored under")
        return drafts


_MODELS: dict[int, type[_Model]] = {1: SessionV1, 2: SessionV2}
_FIELD_NAMES = {name for model in (SessionV1, UserV1, DraftV1, SessionV2, AccountV2, DraftV2)
                for name in model.model_fields} | {"schema"}


def schema_of(record: Any) -> int:
    if not isinstance(record, dict):
        raise ValueError("a session record must be a JSON object")
    schema = record.get("schema")
    if isinstance(schema, bool) or schema not in _MODELS:
        raise ValueError(f"unknown session schema (known: {', '.join(map(str, SCHEMAS))})")
    return schema


def validate(record: Any, schema: int) -> dict[str, Any]:
    """The record checked against ``schema`` and normalised; ValueError without contents."""
    try:
        model = _MODELS[schema].model_validate(record)
    except ValidationError as exc:
        raise ValueError(f"not a valid format-{schema} session: {_reason(exc)}") from None
    return model.model_dump(by_alias=True)


def migrate(record: dict[str, Any], to_schema: int) -> dict[str, Any]:
    """Convert ``record`` to ``to_schema`` (up or down, several steps) and validate it there."""
    if isinstance(to_schema, bool) or to_schema not in _MODELS:
        raise ValueError(f"unknown target schema (known: {', '.join(map(str, SCHEMAS))})")
    current = schema_of(record)
    data = validate(record, current)
    while current != to_schema:
        step = _UP if to_schema > current else _DOWN
        data = step[current](data)
        current += 1 if to_schema > current else -1
    return validate(data, to_schema)


def _up_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    user = data["user"]
    drafts: dict[str, list[dict[str, Any]]] = {}
    for form, draft in data["drafts"].items():
        pages: dict[str, dict[str, str]] = {}
        for key, value in draft["fields"].items():
            page, _, name = key.partition(".")
            pages.setdefault(page, {})[name] = value
        drafts[form] = [{"form": form, "pages": pages, "updated": draft["updated"]}]
    account = {"id": user["id"], "display_name": user["name"], "email": user["email"],
               "language": user["language"]}
    return {"schema": 2, "created": data["created"], "account": account, "drafts": drafts}


def _down_2_to_1(data: dict[str, Any]) -> dict[str, Any]:
    account = data["account"]
    drafts: dict[str, dict[str, Any]] = {}
    for form, entries in data["drafts"].items():
        if len(entries) > 1:
            raise ValueError(f"format 1 holds one draft per form; a form holds {len(entries)}")
        entry = entries[0]
        fields = {f"{page}.{name}": value for page, values in entry["pages"].items()
                  for name, value in values.items()}
        drafts[form] = {"fields": fields, "updated": entry["updated"]}
    user = {"id": account["id"], "name": account["display_name"], "email": account["email"],
            "language": account["language"]}
    return {"schema": 1, "created": data["created"], "user": user, "drafts": drafts}


_UP = {1: _up_1_to_2}
_DOWN = {2: _down_2_to_1}


def _reason(exc: ValidationError) -> str:
    """First validation problem, naming the path with dict keys hidden (they may be user data)."""
    first = exc.errors(include_input=False, include_url=False, include_context=False)[0]
    path = ".".join(str(part) if isinstance(part, int) or part in _FIELD_NAMES else "<key>"
                    for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    more = exc.error_count() - 1
    return f"{path or 'record'}: {message}" + (f" (and {more} more)" if more else "")
