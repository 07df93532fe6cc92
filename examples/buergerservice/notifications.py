"""notifications: e-mail confirmations to citizens (notifications-api; consumes the city's smtp-relay).

- ``POST /api/messages`` ``{"to", "subject", "template"}`` -> 202 ``{"id", "status": "queued"}``
- ``GET /api/messages?to=<user>`` -> ``{"messages": [...]}`` (the latest few)

The relay is outside the demo: messages wait in a bounded in-memory outbox.
notifications 1.1.0 adds the additive ``channel`` field.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import ServiceInfo, build_app, json_body

OUTBOX_SIZE = 1000


def create_app(info: ServiceInfo) -> ASGIApp:
    outbox: deque[dict[str, Any]] = deque(maxlen=OUTBOX_SIZE)
    ids = itertools.count(1)
    with_channel = info.at_least("1.1.0")

    async def send(request: Request) -> JSONResponse:
        body = await json_body(request)
        if not all(isinstance(body.get(k), str) and body[k] for k in ("to", "subject", "template")):
            return JSONResponse({"error": "to, subject and template are required"}, status_code=422)
        message = {"id": next(ids), "to": body["to"], "subject": body["subject"][:200],
                   "template": body["template"], "queued": time.time(), "status": "queued"}
        if with_channel:
            message["channel"] = "email"
        outbox.append(message)
        return JSONResponse({"id": message["id"], "status": "queued"}, status_code=202)

    async def recent(request: Request) -> JSONResponse:
        to = request.query_params.get("to")
        found = [m for m in reversed(outbox) if m["to"] == to][:10]
        return JSONResponse({"messages": found})

    return build_app(info, [Route("/api/messages", send, methods=["POST"]), Route("/api/messages", recent)])
