"""A small real web app for step, smoke and journey tests: login cookie, CSRF cookie, drafts."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

SECRET_IN_BODY = "Erika Mustermann, Heidestrasse 17"  # stands for citizens' data in responses


def build_app(*, sessions: dict[str, str] | None = None, drafts: dict[int, dict] | None = None) -> Starlette:
    """Pass the same ``sessions``/``drafts`` to two apps to stand for two versions sharing a store."""
    sessions = {} if sessions is None else sessions  # token -> user
    drafts = {} if drafts is None else drafts

    def user_of(request: Request) -> str | None:
        return sessions.get(request.cookies.get("bs_session", ""))

    async def forms(_: Request) -> Response:
        return JSONResponse({"status": "ok", "forms": [{"id": "anmeldung"}, {"id": "ummeldung"}]})

    async def boom(_: Request) -> Response:
        return JSONResponse({"error": SECRET_IN_BODY}, status_code=503)

    async def gone(_: Request) -> Response:
        return JSONResponse({"owner": SECRET_IN_BODY}, status_code=404)

    async def slow(_: Request) -> Response:
        await asyncio.sleep(2)
        return JSONResponse({"status": "late"})

    async def text(_: Request) -> Response:
        return PlainTextResponse(SECRET_IN_BODY)

    async def login(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}  # no python-multipart
        if form.get("password") != "correct horse":
            return JSONResponse({"error": "bad credentials"}, status_code=401)
        token = secrets.token_hex(8)
        sessions[token] = str(form.get("user"))
        response = RedirectResponse("/home", status_code=303)
        response.set_cookie("bs_session", token, httponly=True)
        return response

    async def login_page(_: Request) -> Response:
        return PlainTextResponse("please log in")

    async def home(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return RedirectResponse("/login?next=/home", status_code=302)
        return JSONResponse({"user": user})

    async def csrf(_: Request) -> Response:
        response = JSONResponse({"ok": True})
        response.set_cookie("csrftoken", secrets.token_hex(8))
        return response

    async def new_draft(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return RedirectResponse("/login", status_code=302)
        if request.headers.get("x-csrf") != request.cookies.get("csrftoken"):
            return JSONResponse({"error": "csrf"}, status_code=403)
        body = await request.json()
        draft_id = len(drafts) + 1
        drafts[draft_id] = {"text": body["text"], "owner": user, "fields": {"count": body.get("count")}}
        return JSONResponse({"id": draft_id}, status_code=201, headers={"location": f"/api/drafts/{draft_id}"})

    async def read_draft(request: Request) -> Response:
        user = user_of(request)
        if user is None:
            return RedirectResponse("/login", status_code=302)
        draft = drafts.get(int(request.path_params["draft_id"]))
        if draft is None or draft["owner"] != user:
            return JSONResponse({"error": "no such draft"}, status_code=404)
        return JSONResponse(draft)

    return Starlette(routes=[
        Route("/api/forms", forms), Route("/boom", boom), Route("/gone", gone), Route("/slow", slow),
        Route("/text", text), Route("/login", login, methods=["POST"]), Route("/login", login_page),
        Route("/home", home), Route("/csrf", csrf), Route("/api/drafts", new_draft, methods=["POST"]),
        Route("/api/drafts/{draft_id:int}", read_draft),
    ])
