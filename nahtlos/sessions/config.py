"""The ``sessions:`` section of an application descriptor (shared contract 3).

    sessions:
      key_pattern: "session:*"
      schema_field: schema
      format_key: "nahtlos:session-format:buergerservice"
      user_fields: [drafts, account]
      migrations:
        python: "examples.buergerservice.sessions:migrate"
        # or: http: {module: gateway, path: /_nahtlos/sessions/migrate}

This module imports nothing from nahtlos but ``nahtlos.versions``, so that
``nahtlos.descriptor`` can use it as the type of ``Application.sessions``.
"""

from __future__ import annotations

import fnmatch
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nahtlos.versions import DnsLabel

_DOTTED = re.compile(r"^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpMigrations(_Frozen):
    """Migration endpoint served by a version of ``module`` (see ``nahtlos.sessions.providers``)."""

    module: DnsLabel
    path: str = "/_nahtlos/sessions/migrate"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("path must start with '/', e.g. /_nahtlos/sessions/migrate")
        return value


class Migrations(_Frozen):
    """Exactly one migration provider: a Python callable or an HTTP endpoint."""

    python: str | None = None
    http: HttpMigrations | None = None

    @field_validator("python")
    @classmethod
    def _dotted_name(cls, value: str | None) -> str | None:
        if value is not None and not _DOTTED.match(value):
            raise ValueError(f"{value!r} is not a dotted name like 'package.module:function'")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> "Migrations":
        if (self.python is None) == (self.http is None):
            raise ValueError("give exactly one of 'python' (a dotted name) or 'http' ({module, path})")
        return self


class SessionsConfig(_Frozen):
    """Where the user sessions live and how nahtlos may read, migrate and digest them."""

    key_pattern: str = "session:*"
    schema_field: str = "schema"
    format_key: str
    user_fields: tuple[str, ...] = Field(min_length=1)
    migrations: Migrations
    # Redis set to which the application adds the key of every session it deletes on purpose
    # (a logout), so a verification during live traffic can tell an ended session from a lost one.
    ended_key: str | None = None

    @field_validator("key_pattern")
    @classmethod
    def _one_wildcard(cls, value: str) -> str:
        if value.count("*") != 1 or not value.endswith("*") or len(value) < 2 or set("?[]\\") & set(value):
            raise ValueError("key_pattern must be a literal prefix followed by one '*', e.g. 'session:*'")
        return value

    @field_validator("user_fields", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        if not isinstance(value, (list, tuple)):
            raise ValueError("user_fields must be a list of top-level field names, e.g. [drafts, account]")
        return value

    @model_validator(mode="after")
    def _format_key_outside_sessions(self) -> "SessionsConfig":
        # The control key must never be mistaken for a session by a scan.
        for name, key in (("format_key", self.format_key), ("ended_key", self.ended_key)):
            if key is not None and fnmatch.fnmatchcase(key, self.key_pattern):
                raise ValueError(f"{name} {key!r} matches key_pattern {self.key_pattern!r}; choose a key "
                                 "outside the session keys, e.g. 'nahtlos:session-format:<app>'")
        if self.schema_field in self.user_fields:
            raise ValueError(f"schema_field {self.schema_field!r} cannot also be a user field")
        return self

    @property
    def key_prefix(self) -> str:
        return self.key_pattern[:-1]

    def key_for(self, session_id: str) -> str:
        """The store key of a session id (the pattern's prefix plus the id)."""
        return self.key_prefix + session_id

    @property
    def journal_key(self) -> str:
        """Hash in which each compare-and-set records which content it replaced (see verify)."""
        return self.format_key + ":journal"
