"""documents: certificates issued for submitted applications (documents-api).

- ``POST /api/documents`` ``{"user_id", "form", "reference"}`` -> 201 document
- ``GET /api/documents?user_id=`` -> ``{"documents": [...]}``

Consumes forms-api 1.x (the form's title, through ``/v1``) and registry-api
(the citizen's name on the certificate). Documents live in Redis
(``bs:documents:<user>``). documents 1.1.0 adds ``format`` and ``pages``.
"""

from __future__ import annotations

import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import (ServiceInfo, Upstreams, build_app, closing_lifespan, json_body,
                                             redis_from_env, redis_ready)

KEEP_SECONDS = 7 * 24 * 3600


def create_app(info: ServiceInfo) -> ASGIApp:
    redis, upstreams = redis_from_env(info.module), Upstreams()
    additive = info.at_least("1.1.0")

    async def issue(request: Request) -> JSONResponse:
        body = await json_body(request)
        user_id, form, reference = body.get("user_id"), body.get("form"), body.get("reference")
        if not all(isinstance(v, str) and v for v in (user_id, form, reference)):
            return JSONResponse({"error": "user_id, form and reference are required"}, status_code=422)
        definition = await upstreams.json("forms", "GET", f"/v1/forms/{form}")
        person = await upstreams.json("registry", "GET", f"/api/citizens/{user_id}")
        document = {"reference": reference, "title": f"Bestätigung: {definition['title']}",
                    "issued_to": f"{person['first_name']} {person['last_name']}", "issued": time.time()}
        if additive:
            document.update(format="pdf", pages=1)
        key = f"bs:documents:{user_id}"
        await redis.pipeline().lpush(key, json.dumps(document)).ltrim(key, 0, 19).expire(key, KEEP_SECONDS).execute()
        return JSONResponse(document, status_code=201)

    async def listing(request: Request) -> JSONResponse:
        raw = await redis.lrange(f"bs:documents:{request.query_params.get('user_id', '')}", 0, 19)
        return JSONResponse({"documents": [json.loads(item) for item in raw]})

    return build_app(info, [Route("/api/documents", issue, methods=["POST"]), Route("/api/documents", listing)],
                     lifespan=closing_lifespan(upstreams, redis), ready=redis_ready(redis))
