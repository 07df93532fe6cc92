"""auth: checks credentials and names the citizen (auth-api; consumes registry-api).

``POST /api/login`` ``{"username", "password"}`` -> 200 ``{"user_id", "name", "email"}`` or 401.

Demo accounts: any username of 3-32 lower-case letters, digits and dashes
with the demo password (``BS_DEMO_PASSWORD``, default ``demo``). The
citizen's name and e-mail come from the registry.
"""

from __future__ import annotations

import hmac
import os
import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import ServiceInfo, Upstreams, build_app, closing_lifespan, json_body

USERNAME = re.compile(r"[a-z][a-z0-9-]{2,31}")


def create_app(info: ServiceInfo) -> ASGIApp:
    upstreams = Upstreams()
    password = os.environ.get("BS_DEMO_PASSWORD", "demo").encode()

    async def login(request: Request) -> JSONResponse:
        body = await json_body(request)
        username, given = body.get("username"), body.get("password")
        if not (isinstance(username, str) and USERNAME.fullmatch(username) and isinstance(given, str)
                and hmac.compare_digest(given.encode(), password)):
            return JSONResponse({"error": "unknown user or wrong password"}, status_code=401)
        person = await upstreams.json("registry", "GET", f"/api/citizens/{username}")
        return JSONResponse({"user_id": username, "name": f"{person['first_name']} {person['last_name']}",
                             "email": person["email"]})

    return build_app(info, [Route("/api/login", login, methods=["POST"])],
                     lifespan=closing_lifespan(upstreams))
