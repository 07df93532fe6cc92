"""The daemon's admin HTTP API (loopback only, bearer token).

    GET    /v1/health                                  daemon liveness and restore progress
    GET    /v1/status                                  PlatformStatus
    POST   /v1/modules/{m}/versions/{v}/deploy         {"timeout": s}            -> VersionStatus
    POST   /v1/modules/{m}/versions/{v}/drain          {"deadline": s, "move_to": v|null} -> DrainReport
    DELETE /v1/modules/{m}/versions/{v}                retire                    -> {"retired": true}
    PUT    /v1/modules/{m}/weights                     {"weights": {v: pct}}     -> TrafficSplit
    GET    /v1/modules/{m}/traffic                                               -> TrafficSplit
    POST   /v1/modules/{m}/sessions/move               {"from_version", "to_version"} -> {"moved": n}
    PUT    /v1/modules/{m}/release-state               {"state": {...}}
    PUT    /v1/application                             {"application": {...}} newer descriptor, same modules
    POST   /v1/shutdown                                stop every version and the daemon
    GET    /metrics                                    Prometheus text (no token needed)

Errors are JSON ``{"error": <type>, "message": <one line>}``: 400 malformed or
invalid, 401 missing or wrong token, 404 unknown module/version/path, 409
conflicting state, 422 a version that cannot start as described.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nahtlos.descriptor import Application
from nahtlos.errors import Conflict, DeployRefused, InvalidInput, NahtlosError, UnknownObject
from nahtlos.platforms.local.control import LocalControl

log = logging.getLogger("nahtlos.platform.admin")
MAX_BODY = 1024 * 1024


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DeployBody(_Body):
    timeout: float = Field(default=120.0, gt=0, le=3600)


class DrainBody(_Body):
    deadline: float = Field(ge=0, le=86400)
    move_to: str | None = None


class WeightsBody(_Body):
    weights: dict[str, int]


class MoveBody(_Body):
    from_version: str
    to_version: str


class ReleaseStateBody(_Body):
    state: dict[str, Any]


class ApplicationBody(_Body):
    application: dict[str, Any]


class HttpError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


Handler = Callable[..., Awaitable[tuple[int, Any]]]
_M, _V = r"(?P<module>[^/]+)", r"(?P<version>[^/]+)"


class AdminServer:
    def __init__(self, control: LocalControl, *, token: str, on_shutdown: Callable[[], None]) -> None:
        self.control, self.token, self.on_shutdown = control, token.encode(), on_shutdown
        self.routes: list[tuple[str, re.Pattern[str], Handler, type[_Body] | None]] = [
            ("GET", re.compile(r"/v1/health"), self.health, None),
            ("GET", re.compile(r"/v1/status"), self.status, None),
            ("POST", re.compile(rf"/v1/modules/{_M}/versions/{_V}/deploy"), self.deploy, DeployBody),
            ("POST", re.compile(rf"/v1/modules/{_M}/versions/{_V}/drain"), self.drain, DrainBody),
            ("DELETE", re.compile(rf"/v1/modules/{_M}/versions/{_V}"), self.retire, None),
            ("PUT", re.compile(rf"/v1/modules/{_M}/weights"), self.weights, WeightsBody),
            ("GET", re.compile(rf"/v1/modules/{_M}/traffic"), self.traffic, None),
            ("POST", re.compile(rf"/v1/modules/{_M}/sessions/move"), self.move, MoveBody),
            ("PUT", re.compile(rf"/v1/modules/{_M}/release-state"), self.release_state, ReleaseStateBody),
            ("PUT", re.compile(r"/v1/application"), self.application, ApplicationBody),
            ("POST", re.compile(r"/v1/shutdown"), self.shutdown, None),
        ]

    async def start(self, host: str, port: int) -> asyncio.base_events.Server:
        return await asyncio.start_server(self._connection, host, port, reuse_address=True)

    # -- handlers -------------------------------------------------------------------------------

    async def health(self) -> tuple[int, Any]:
        return 200, {"application": self.control.app.name, "restoring": self.control.restoring}

    async def status(self) -> tuple[int, Any]:
        return 200, self.control.status().model_dump(mode="json")

    async def deploy(self, module: str, version: str, body: DeployBody) -> tuple[int, Any]:
        result = await self.control.deploy(module=module, version=version, timeout=body.timeout)
        return 200, result.model_dump(mode="json")

    async def drain(self, module: str, version: str, body: DrainBody) -> tuple[int, Any]:
        report = await self.control.drain(module=module, version=version, deadline=body.deadline,
                                          move_to=body.move_to)
        return 200, report.model_dump(mode="json")

    async def retire(self, module: str, version: str) -> tuple[int, Any]:
        await self.control.retire(module=module, version=version)
        return 200, {"retired": True}

    async def weights(self, module: str, body: WeightsBody) -> tuple[int, Any]:
        return 200, self.control.set_weights(module=module, weights=body.weights).model_dump(mode="json")

    async def traffic(self, module: str) -> tuple[int, Any]:
        return 200, self.control.traffic(module=module).model_dump(mode="json")

    async def move(self, module: str, body: MoveBody) -> tuple[int, Any]:
        moved = self.control.move_sessions(module=module, from_version=body.from_version, to_version=body.to_version)
        return 200, {"moved": moved}

    async def release_state(self, module: str, body: ReleaseStateBody) -> tuple[int, Any]:
        self.control.set_release_state(module=module, state=body.state)
        return 200, {"stored": True}

    async def application(self, body: ApplicationBody) -> tuple[int, Any]:
        try:
            app = Application.model_validate(body.application)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise HttpError(400, "bad_request", f"application.{where}: {first['msg']}") from None
        return 200, {"changed": self.control.replace_application(app)}

    async def shutdown(self) -> tuple[int, Any]:
        asyncio.get_running_loop().call_soon(self.on_shutdown)
        return 202, {"stopping": True}

    # -- HTTP mechanics ---------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                keep_alive, status, payload, content_type = await self._handle(head, reader)
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                extra = b"www-authenticate: Bearer\r\n" if status == 401 else b""
                writer.write(b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s%s\r\n%s" % (
                    status, _REASONS.get(status, b"-"), content_type, len(body), extra,
                    b"" if keep_alive else b"connection: close\r\n", body))
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):  # client gone, or the daemon is stopping
            return
        finally:
            writer.close()

    async def _handle(self, head: bytes, reader: asyncio.StreamReader) -> tuple[bool, int, Any, bytes]:
        json_type = b"application/json"
        try:
            method, path, headers = _parse_head(head)
        except ValueError:
            return False, 400, {"error": "bad_request", "message": "malformed HTTP request"}, json_type
        keep_alive = headers.get("connection", "").lower() != "close"
        try:
            body = await _read_body(headers, reader)
            path = path.split("?", 1)[0]
            if method == "GET" and path == "/metrics":
                return keep_alive, 200, self.control.router.prometheus().encode(), b"text/plain; version=0.0.4"
            if not self._authorized(headers.get("authorization", "")):
                raise HttpError(401, "unauthorized", "missing or wrong bearer token (see the state directory's token file)")
            handler, params, body_type = self._route(method, path)
            if body_type is not None:
                params["body"] = _parse_body(body, body_type)
            elif body.strip():
                raise HttpError(400, "bad_request", "this endpoint takes no request body")
            status, payload = await handler(**params)
            return keep_alive, status, payload, json_type
        except HttpError as exc:
            return keep_alive and exc.status != 400, exc.status, {"error": exc.error, "message": exc.message}, json_type
        except NahtlosError as exc:
            status = _status_of(exc)
            return keep_alive, status, {"error": type(exc).__name__, "message": str(exc)}, json_type
        except Exception:  # a bug: keep serving, tell the caller without internals
            log.exception("admin request %s %s failed", method, path)
            return False, 500, {"error": "internal", "message": "internal error; see the daemon log"}, json_type

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.token)

    def _route(self, method: str, path: str) -> tuple[Handler, dict[str, Any], type[_Body] | None]:
        allowed = False
        for verb, pattern, handler, body_type in self.routes:
            match = pattern.fullmatch(path)
            if match:
                if verb == method:
                    return handler, dict(match.groupdict()), body_type
                allowed = True
        if allowed:
            raise HttpError(405, "method_not_allowed", f"{method} is not allowed on {path}")
        raise HttpError(404, "not_found", f"no admin endpoint {path}")


_REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found",
            405: b"Method Not Allowed", 409: b"Conflict", 411: b"Length Required", 413: b"Payload Too Large",
            422: b"Unprocessable Entity", 500: b"Internal Server Error"}


def _status_of(exc: NahtlosError) -> int:
    if isinstance(exc, UnknownObject):
        return 404
    if isinstance(exc, DeployRefused):
        return 422
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InvalidInput):
        return 400
    return 500


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, version = lines[0].split(" ")
    if not version.startswith("HTTP/1.") or not path.startswith("/"):
        raise ValueError("not HTTP/1.x")
    headers = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError("bad header line")
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


async def _read_body(headers: dict[str, str], reader: asyncio.StreamReader) -> bytes:
    if "transfer-encoding" in headers:
        raise HttpError(411, "length_required", "send the request body with Content-Length")
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise HttpError(400, "bad_request", "invalid Content-Length")
    if int(length) > MAX_BODY:
        raise HttpError(413, "too_large", f"request body larger than {MAX_BODY} bytes")
    return await reader.readexactly(int(length)) if int(length) else b""


def _parse_body(body: bytes, body_type: type[_Body]) -> _Body:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise HttpError(400, "bad_request", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise HttpError(400, "bad_request", "request body must be a JSON object")
    try:
        return body_type.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise HttpError(400, "bad_request", f"{where}: {first['msg']}") from None
