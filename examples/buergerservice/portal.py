"""portal: the citizen's dashboard (portal-ui; consumes appointments-api and documents-api).

The gateway passes the session id in ``X-Session-Id``; the portal reads the
session record from Redis itself, which is why its versions declare the
session formats they read:

- ``GET /ui/dashboard`` -> an HTML fragment: greeting, drafts, appointments, documents.
  401 without a session; 500 when the record is in a format this version
  cannot read (portal 1.2.0 and format 2: the reason 1.3.0 must run first).
- ``PUT /ui/preferences`` ``{"language": "de"|"en"}`` -> 200; written in the
  format the control key names if this version can (1.3.0 can write 1 and 2).
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import (ServiceInfo, Upstreams, build_app, closing_lifespan, json_body,
                                             redis_from_env, redis_ready)
from examples.buergerservice.session_store import SessionFormats, SessionUnreadable, store_from_env

FORMATS = {
    "1.2.0": SessionFormats(reads=frozenset({1}), writes=1, can_write=frozenset({1})),
    "1.3.0": SessionFormats(reads=frozenset({1, 2}), writes=1, can_write=frozenset({1, 2})),
}
LANGUAGES = ("de", "en")
GREETING = {"de": "Grüß Gott", "en": "Welcome"}


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%d.%m.%Y %H:%M")


def render_dashboard(record: dict[str, Any], bookings: list[dict[str, Any]], documents: list[dict[str, Any]]) -> str:
    account = record["account"]
    drafts = [entry for entries in record["drafts"].values() for entry in entries]
    draft_items = "".join(
        f'<li><a href="/forms/{escape(d["form"])}">{escape(d["form"])}</a>: '
        f'{len(d["pages"])} Seite(n), zuletzt {_when(d["updated"])}</li>' for d in drafts) or "<li>keine</li>"
    booking_items = "".join(f"<li>{escape(b['start'])}, {escape(b['office'])}</li>" for b in bookings) or "<li>keine</li>"
    document_items = "".join(f"<li>{escape(d['title'])} ({escape(d['reference'])})</li>"
                             for d in documents) or "<li>keine</li>"
    greeting = GREETING.get(account["language"], GREETING["de"])
    return (f'<section class="welcome"><h2>{greeting}, {escape(account["display_name"])}</h2></section>'
            f'<section><h3>Ihre Entwürfe</h3><ul class="drafts">{draft_items}</ul></section>'
            f'<section><h3>Ihre Termine</h3><ul>{booking_items}</ul>'
            f'<p><a href="/appointments">Termin vereinbaren</a></p></section>'
            f'<section><h3>Ihre Dokumente</h3><ul>{document_items}</ul></section>')


def create_app(info: ServiceInfo) -> ASGIApp:
    redis, upstreams = redis_from_env(info.module), Upstreams()
    store = store_from_env(redis, FORMATS[info.version])

    async def session_of(request: Request) -> Any:
        sid = request.headers.get("x-session-id", "")
        try:
            loaded = await store.load(sid, touch=False) if sid else None
        except SessionUnreadable as exc:
            return JSONResponse({"error": f"cannot read the session: {exc}"}, status_code=500)
        return loaded or JSONResponse({"error": "no session"}, status_code=401)

    async def dashboard(request: Request) -> Response:
        loaded = await session_of(request)
        if isinstance(loaded, Response):
            return loaded
        user_id = loaded.record["account"]["id"]
        bookings = await upstreams.json("appointments", "GET", "/api/bookings", params={"user_id": user_id})
        documents = await upstreams.json("documents", "GET", "/api/documents", params={"user_id": user_id})
        return HTMLResponse(render_dashboard(loaded.record, bookings["bookings"][:5], documents["documents"][:5]))

    async def preferences(request: Request) -> Response:
        language = (await json_body(request)).get("language")
        if language not in LANGUAGES:
            return JSONResponse({"error": f"language must be one of {', '.join(LANGUAGES)}"}, status_code=422)
        loaded = await session_of(request)
        if isinstance(loaded, Response):
            return loaded

        def set_language(record: dict[str, Any]) -> None:
            record["account"]["language"] = language

        if await store.update(loaded, set_language) is None:
            return JSONResponse({"error": "no session"}, status_code=401)
        return JSONResponse({"language": language})

    return build_app(info, [
        Route("/ui/dashboard", dashboard),
        Route("/ui/preferences", preferences, methods=["PUT"]),
    ], lifespan=closing_lifespan(store, upstreams, redis, on_start=store.start), ready=redis_ready(redis))
