"""Migration providers: the application's own code that converts a session record
between schema versions (up-casts, and down-casts where the plan needs them).

Python contract (``migrations: {python: "package.module:migrate"}``)::

    def migrate(record: dict, to_schema: int) -> dict

returns the record converted to ``to_schema`` (up or down, possibly several
steps; the same schema returns it unchanged) and validated as readable by that
schema. It may modify its argument. When it cannot convert, it raises
``ValueError`` with a reason that never contains record contents.

HTTP contract (``migrations: {http: {module: gateway, path: /_nahtlos/sessions/migrate}}``),
language-neutral, served by a version of the module that knows both formats
(the newer one)::

    POST <version address><path>
    Content-Type: application/json
    {"to": 2, "record": {"schema": 1, ...}}

    200 {"record": {"schema": 2, ...}}            converted and validated
    422 {"error": "unknown form type"}            cannot convert this record; the reason
                                                  never contains record contents
    anything else (5xx, timeout, refused)         the endpoint is unavailable: nahtlos
                                                  stops and retries later, it does not
                                                  count the record as unreadable

One record per request; the endpoint must be idempotent and side-effect free
(nahtlos calls it for checks it never writes back). nahtlos checks every
answer: an object whose schema field equals ``to``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import httpx

from nahtlos.errors import InvalidInput, MigrationUnavailable, UnknownObject
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.records import MIGRATION_ERROR, MIGRATION_REFUSED, Unusable, schema_of, scrub

Record = dict[str, Any]


class MigrationProvider(Protocol):
    name: str

    def migrate_many(self, records: Sequence[Record], to_schema: int) -> list[Record | Unusable]:
        """Each record converted to ``to_schema``, or why it cannot be (``Unusable``, scrubbed).
        Raises ``MigrationUnavailable`` when the provider itself cannot answer."""


class PythonMigrations:
    """A provider that calls ``migrate(record, to_schema)`` in this process."""

    def __init__(self, function: Callable[[Record, int], Record], *, name: str) -> None:
        self._function, self.name = function, name

    @classmethod
    def from_dotted(cls, dotted: str) -> "PythonMigrations":
        module_name, _, attribute = dotted.partition(":") if ":" in dotted else dotted.rpartition(".")
        try:
            function = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise UnknownObject(f"cannot import the session migration ({type(exc).__name__})", subject=dotted,
                                hint="check sessions.migrations.python in the descriptor and the Python path") from None
        if not callable(function):
            raise UnknownObject("is not callable", subject=dotted, hint="name a function migrate(record, to_schema)")
        return cls(function, name=dotted)

    def migrate_many(self, records: Sequence[Record], to_schema: int) -> list[Record | Unusable]:
        return [self._one(record, to_schema) for record in records]

    def _one(self, record: Record, to_schema: int) -> Record | Unusable:
        try:
            return self._function(record, to_schema)
        except ValueError as exc:
            return Unusable(MIGRATION_REFUSED, scrub(str(exc), record))
        except Exception as exc:  # a bug in the application's migration: name its type, never its text
            return Unusable(MIGRATION_ERROR, f"raised {type(exc).__name__}")


class HttpMigrations:
    """A provider that POSTs each record to a module version's migration endpoint."""

    def __init__(self, *, url: str, timeout: float = 10.0, concurrency: int = 8,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = url
        self._url = url
        self._concurrency = concurrency
        self._client = httpx.Client(timeout=timeout, transport=transport,
                                    limits=httpx.Limits(max_connections=concurrency))

    def close(self) -> None:
        self._client.close()

    def migrate_many(self, records: Sequence[Record], to_schema: int) -> list[Record | Unusable]:
        if len(records) <= 1 or self._concurrency <= 1:
            return [self._one(record, to_schema) for record in records]
        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            return list(pool.map(lambda record: self._one(record, to_schema), records))

    def _one(self, record: Record, to_schema: int) -> Record | Unusable:
        try:
            response = self._client.post(self._url, json={"to": to_schema, "record": record})
        except httpx.HTTPError as exc:
            raise MigrationUnavailable(f"migration endpoint not reachable ({type(exc).__name__})",
                                       subject=self._url, hint="check that the module version runs") from None
        if response.status_code == 422:
            return Unusable(MIGRATION_REFUSED, scrub(str(_field(response, "error") or "refused"), record))
        if response.status_code != 200:
            raise MigrationUnavailable(f"migration endpoint answered HTTP {response.status_code}",
                                       subject=self._url, hint="see the module's log; retrying may help")
        converted = _field(response, "record")
        if not isinstance(converted, dict):
            return Unusable(MIGRATION_ERROR, "answer without a 'record' object")
        return converted


def _field(response: httpx.Response, name: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def convert(provider: MigrationProvider, records: Sequence[Record], to_schema: int, *,
            schema_field: str) -> list[Record | Unusable]:
    """``provider.migrate_many`` with every answer checked: an object in ``to_schema``
    that serializes as JSON."""
    results = provider.migrate_many(records, to_schema)
    if len(results) != len(records):
        raise MigrationUnavailable(f"answered {len(results)} records for {len(records)}", subject=provider.name)
    return [_checked(result, to_schema, schema_field) for result in results]


def _checked(result: Record | Unusable, to_schema: int, schema_field: str) -> Record | Unusable:
    if isinstance(result, Unusable):
        return result
    if not isinstance(result, dict):
        return Unusable(MIGRATION_ERROR, f"returned {type(result).__name__}, not an object")
    if schema_of(result, schema_field) != to_schema:
        return Unusable(MIGRATION_ERROR, f"returned a record whose {schema_field!r} is not {to_schema}")
    return result


def provider_for(config: SessionsConfig, *, address: str | None = None) -> MigrationProvider:
    """The provider the descriptor names; ``address`` is the base URL of the module version
    serving the HTTP endpoint (``VersionStatus.address``), needed only for ``http``."""
    if config.migrations.python:
        return PythonMigrations.from_dotted(config.migrations.python)
    http = config.migrations.http
    assert http is not None  # the config allows exactly one
    if not address:
        raise InvalidInput("the HTTP session migration needs the address of a running version",
                           subject=f"module {http.module}", hint="deploy the version first, then pass its address")
    return HttpMigrations(url=address.rstrip("/") + http.path)
