"""gateway: the single entry point; login, server-side sessions, routing to the backends.

Sessions are JSON records in Redis (``session:<id>``, see ``sessions.py`` and
``session_store.py``) named by the ``bs_session`` cookie; the user's form
drafts live inside the record, so a session handoff carries them along.

JSON API (what the synthetic users drive; 401 when there is no session):

- ``POST /api/login`` ``{"username", "password"}`` -> 200 ``{"user_id", "display_name"}`` + cookie
- ``POST /api/logout``; ``GET /api/me``
- ``GET /api/forms``, ``GET /api/forms/{form}`` (the definition, pages and fields)
- ``GET /api/drafts``, ``GET|DELETE /api/drafts/{form}``, ``PUT /api/drafts/{form}/{page}`` ``{"fields"}``
- ``POST /api/forms/{form}/submit`` -> 201 ``{"reference"}`` (422 with ``missing``)
- ``GET /api/appointments/slots``, ``GET|POST /api/appointments``
- ``GET /api/payments/fees?service=``, ``POST /api/payments``; ``GET /api/documents``
- ``PUT /api/preferences`` (through the portal)

HTML pages are in ``gateway_pages.py``. gateway 1.8.0 consumes forms-api 1
and reads/writes session format 1; gateway 2.0.0 consumes forms-api 2, reads
formats 1 and 2, writes the one the control key names (default 2) and serves
the HTTP migration endpoint ``POST /_nahtlos/sessions/migrate`` (contract 3).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from examples.buergerservice.forms_client import FormsV1, FormsV2, PageCheck, Submitted
from examples.buergerservice.service import (ServiceInfo, Upstreams, build_app, closing_lifespan, json_body,
                                             redis_from_env, redis_ready)
from examples.buergerservice.session_store import (LoadedSession, SessionFormats, SessionUnreadable,
                                                   store_from_env)
from examples.buergerservice.sessions import migrate

log = logging.getLogger("buergerservice.gateway")

COOKIE = "bs_session"
MIGRATE_PATH = "/_nahtlos/sessions/migrate"
FORMATS = {
    "1.8.0": SessionFormats(reads=frozenset({1}), writes=1, can_write=frozenset({1})),
    "2.0.0": SessionFormats(reads=frozenset({1, 2}), writes=2, can_write=frozenset({1, 2})),
}


class Gateway:
    """The gateway's state and the operations its API and its pages share."""

    def __init__(self, info: ServiceInfo) -> None:
        self.info = info
        self.redis = redis_from_env(info.module)
        self.upstreams = Upstreams()
        self.store = store_from_env(self.redis, FORMATS[info.version])
        self.forms = (FormsV2 if info.at_least("2.0.0") else FormsV1)(self.upstreams)
        self._reported: set[str] = set()

    async def session(self, request: Request) -> LoadedSession | None:
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        try:
            return await self.store.load(sid)
        except SessionUnreadable as exc:
            if str(exc) not in self._reported:  # once per reason: this can hit every request
                self._reported.add(str(exc))
                log.warning("%s treats unreadable sessions as logged out: %s", self.info.label, exc)
            return None

    async def login(self, username: Any, password: Any, *, previous: str | None) -> str | None:
        """A new session id for valid credentials, else None."""
        response = await self.upstreams.call("auth", "POST", "/api/login", expect=(200, 401),
                                             json={"username": username, "password": password})
        if response.status_code != 200:
            return None
        person = response.json()
        if previous:
            await self.store.delete(previous)
        return await self.store.create({"id": person["user_id"], "display_name": person["name"],
                                        "email": person["email"], "language": "de"})

    async def save_draft(self, loaded: LoadedSession, form: str, page: str,
                         values: dict[str, str]) -> tuple[PageCheck | None, LoadedSession | None]:
        """Check one page with forms and store it in the session's draft of ``form``."""
        check = await self.forms.check(form, page, values)
        if check is None:
            return None, loaded

        def put_page(record: dict[str, Any]) -> None:
            entries = record["drafts"].setdefault(form, [{"form": form, "pages": {}, "updated": 0.0}])
            entries[0]["pages"][page] = dict(values)
            entries[0]["updated"] = time.time()

        return check, await self.store.update(loaded, put_page)

    async def drop_draft(self, loaded: LoadedSession, form: str) -> LoadedSession | None:
        return await self.store.update(loaded, lambda record: record["drafts"].pop(form, None))

    async def submit(self, loaded: LoadedSession, form: str) -> Submitted | None:
        """Submit the draft of ``form``; the certificate goes to documents, the draft away."""
        draft = draft_of(loaded.record, form)
        if draft is None:
            return None
        user_id = loaded.record["account"]["id"]
        submitted = await self.forms.submit(form, user_id, draft["pages"])
        if submitted.reference:
            await self.upstreams.call("documents", "POST", "/api/documents", expect=(201,), json={
                "user_id": user_id, "form": form, "reference": submitted.reference})
            await self.drop_draft(loaded, form)
        return submitted

    async def relay(self, module: str, method: str, path: str, *, expect: tuple[int, ...] = (200,),
                    **kwargs: Any) -> Response:
        """Pass a backend's JSON answer through, naming the version that produced it."""
        upstream = await self.upstreams.call(module, method, path, expect=expect, **kwargs)
        return Response(upstream.content, status_code=upstream.status_code, media_type="application/json",
                        headers={"x-backend": upstream.headers.get("x-served-by", module)})


def draft_of(record: dict[str, Any], form: str) -> dict[str, Any] | None:
    entries = record["drafts"].get(form)
    return entries[0] if entries else None


def _no_session() -> JSONResponse:
    response = JSONResponse({"error": "not logged in"}, status_code=401)
    response.delete_cookie(COOKIE)
    return response


def set_session_cookie(response: Response, sid: str) -> None:
    response.set_cookie(COOKIE, sid, httponly=True, samesite="lax", path="/")


def api_routes(gw: Gateway) -> list[BaseRoute]:
    def authenticated(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            loaded = await gw.session(request)
            return _no_session() if loaded is None else await handler(request, loaded)
        return endpoint

    async def login(request: Request) -> Response:
        body = await json_body(request)
        sid = await gw.login(body.get("username"), body.get("password"), previous=request.cookies.get(COOKIE))
        if sid is None:
            return JSONResponse({"error": "unknown user or wrong password"}, status_code=401)
        response = JSONResponse({"user_id": body["username"]})
        set_session_cookie(response, sid)
        return response

    async def logout(request: Request) -> Response:
        if sid := request.cookies.get(COOKIE):
            await gw.store.delete(sid)
        response = JSONResponse({"logged_out": True})
        response.delete_cookie(COOKIE)
        return response

    async def me(request: Request, loaded: LoadedSession) -> Response:
        account = loaded.record["account"]
        return JSONResponse({"user_id": account["id"], "display_name": account["display_name"],
                             "language": account["language"], "drafts": len(loaded.record["drafts"])})

    async def forms(request: Request, loaded: LoadedSession) -> Response:
        return JSONResponse({"forms": await gw.forms.catalogue()})

    async def form(request: Request, loaded: LoadedSession) -> Response:
        definition = await gw.forms.definition(request.path_params["form"])
        return JSONResponse(definition) if definition else JSONResponse({"error": "unknown form"}, status_code=404)

    async def drafts(request: Request, loaded: LoadedSession) -> Response:
        return JSONResponse({"drafts": [{"form": form, "pages": len(entries[0]["pages"]),
                                         "updated": entries[0]["updated"]}
                                        for form, entries in loaded.record["drafts"].items()]})

    async def draft(request: Request, loaded: LoadedSession) -> Response:
        form = request.path_params["form"]
        if request.method == "DELETE":
            await gw.drop_draft(loaded, form)
            return Response(status_code=204)
        found = draft_of(loaded.record, form)
        return JSONResponse(found) if found else JSONResponse({"error": "no draft"}, status_code=404)

    async def save_page(request: Request, loaded: LoadedSession) -> Response:
        values = (await json_body(request)).get("fields")
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return JSONResponse({"error": "fields must map field names to strings"}, status_code=422)
        check, saved = await gw.save_draft(loaded, request.path_params["form"], request.path_params["page"],
                                           values)
        if check is None:
            return JSONResponse({"error": "unknown form or page"}, status_code=404)
        if saved is None:
            return _no_session()
        return JSONResponse({"saved": True, "errors": check.errors, "derived": check.derived})

    async def submit(request: Request, loaded: LoadedSession) -> Response:
        submitted = await gw.submit(loaded, request.path_params["form"])
        if submitted is None:
            return JSONResponse({"error": "no draft"}, status_code=404)
        if submitted.missing:
            return JSONResponse({"error": "required fields missing", "missing": submitted.missing}, status_code=422)
        return JSONResponse({"reference": submitted.reference}, status_code=201)

    async def slots(request: Request, loaded: LoadedSession) -> Response:
        return await gw.relay("appointments", "GET", "/api/slots", expect=(200, 404),
                              params=dict(request.query_params))

    async def appointments(request: Request, loaded: LoadedSession) -> Response:
        user_id = loaded.record["account"]["id"]
        if request.method == "GET":
            return await gw.relay("appointments", "GET", "/api/bookings", params={"user_id": user_id})
        slot = (await json_body(request)).get("slot_id")
        return await gw.relay("appointments", "POST", "/api/bookings", expect=(201, 409, 422),
                              json={"user_id": user_id, "slot_id": slot})

    async def fees(request: Request, loaded: LoadedSession) -> Response:
        return await gw.relay("payments", "GET", "/api/fees", expect=(200, 404), params=dict(request.query_params))

    async def pay(request: Request, loaded: LoadedSession) -> Response:
        service = (await json_body(request)).get("service")
        return await gw.relay("payments", "POST", "/api/payments", expect=(201, 422),
                              json={"user_id": loaded.record["account"]["id"], "service": service})

    async def documents(request: Request, loaded: LoadedSession) -> Response:
        return await gw.relay("documents", "GET", "/api/documents",
                              params={"user_id": loaded.record["account"]["id"]})

    async def preferences(request: Request, loaded: LoadedSession) -> Response:
        return await gw.relay("portal", "PUT", "/ui/preferences", expect=(200, 401, 422),
                              headers={"x-session-id": loaded.sid}, content=await request.body())

    return [
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/me", authenticated(me)),
        Route("/api/forms", authenticated(forms)),
        Route("/api/forms/{form}", authenticated(form)),
        Route("/api/forms/{form}/submit", authenticated(submit), methods=["POST"]),
        Route("/api/drafts", authenticated(drafts)),
        Route("/api/drafts/{form}", authenticated(draft), methods=["GET", "DELETE"]),
        Route("/api/drafts/{form}/{page}", authenticated(save_page), methods=["PUT"]),
        Route("/api/appointments/slots", authenticated(slots)),
        Route("/api/appointments", authenticated(appointments), methods=["GET", "POST"]),
        Route("/api/payments/fees", authenticated(fees)),
        Route("/api/payments", authenticated(pay), methods=["POST"]),
        Route("/api/documents", authenticated(documents)),
        Route("/api/preferences", authenticated(preferences), methods=["PUT"]),
    ]


async def migrate_endpoint(request: Request) -> JSONResponse:
    """Contract 3, HTTP migration: ``{"to", "record"}`` -> ``{"record"}`` or 422 ``{"error"}``."""
    body = await json_body(request)
    to, record = body.get("to"), body.get("record")
    if not isinstance(to, int) or not isinstance(record, dict):
        return JSONResponse({"error": "expected {\"to\": <schema>, \"record\": {...}}"}, status_code=422)
    try:
        return JSONResponse({"record": migrate(record, to)})
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)


def create_app(info: ServiceInfo) -> ASGIApp:
    from examples.buergerservice import gateway_pages  # it builds on this module

    gw = Gateway(info)
    routes = [*api_routes(gw), *gateway_pages.routes(gw)]
    if info.at_least("2.0.0"):
        routes.append(Route(MIGRATE_PATH, migrate_endpoint, methods=["POST"]))
    return build_app(info, routes, ready=redis_ready(gw.redis),
                     lifespan=closing_lifespan(gw.store, gw.upstreams, gw.redis, on_start=gw.store.start))
