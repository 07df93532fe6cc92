"""sessionapp: a small third-party-style web application with its own server-side sessions.

It stands for the Django/Rails/PHP software a city runs but nahtlos does not own: the
session records live in a shared store (an SQLite database file, like Django's database
sessions) in a format only the application knows, so nahtlos cannot read or migrate them.
Continuity can only be proven by behaviour, with session probes (``nahtlos.probes``).

Two ways to hold a session, over the same store:
    browser   POST /login (form user, password) -> 303 + cookie ``sa_session``;
              GET /account, POST /notes; not logged in: 303 to /login?next=...
    token     POST /api/token (JSON user, password) -> {"token"}; then
              ``Authorization: Bearer <token>`` on GET /api/account, POST /api/notes;
              not logged in: 401
Both answer {"user", "notes": [{"id", "text"}]} for the account. GET /healthz and GET /
(anonymous) are for readiness and load. ``latency_ms`` delays every other request, like a
real application's database and templates (for benchmarks).

Versions (``BEHAVIOUR``) differ only in how they store sessions:
    1.0.0  record format 1 (JSON)
    1.1.0  compatible: format 1 plus a field 1.0.0 ignores
    1.2.0  reads formats 1 and 2, writes 2: old sessions work, new ones are unreadable for 1.x
    2.0.0  format 2 only (a new serializer): old sessions are not recognised, the user is
           treated as logged out (redirect or 401, never a 5xx)
    2.1.0  as 2.0.0, and it deletes records it cannot read (so they break for 1.x as well)
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

COOKIE = "sa_session"
IDLE_SECONDS = 1800
FORMAT_2_PREFIX = "sa2$"


@dataclass(frozen=True)
class Behaviour:
    reads: frozenset[int]
    writes: int
    extra_field: bool = False  # 1.1.0: an additive field older versions ignore
    purge_unreadable: bool = False  # 2.1.0: a "safe deserializer" that deletes what it cannot read


BEHAVIOUR = {
    "1.0.0": Behaviour(reads=frozenset({1}), writes=1),
    "1.1.0": Behaviour(reads=frozenset({1}), writes=1, extra_field=True),
    "1.2.0": Behaviour(reads=frozenset({1, 2}), writes=2),
    "2.0.0": Behaviour(reads=frozenset({2}), writes=2),
    "2.1.0": Behaviour(reads=frozenset({2}), writes=2, purge_unreadable=True),
}


class SessionStore:
    """Session records in one SQLite file shared by every running version."""

    def __init__(self, path: str | Path, behaviour: Behaviour) -> None:
        self.path, self.behaviour = str(path), behaviour
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires REAL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def create(self, user: str) -> str:
        sid = secrets.token_urlsafe(24)
        self.save(sid, {"user": user, "notes": []})
        return sid

    def load(self, sid: str | None) -> dict[str, Any] | None:
        """The session, or None when there is none or this version cannot read it (logged out)."""
        if not sid:
            return None
        with self._connect() as db:
            row = db.execute("SELECT data, expires FROM sessions WHERE id = ?", (sid,)).fetchone()
            if row is None or row[1] < time.time():
                return None
            session = self._decode(row[0])
            if session is None and self.behaviour.purge_unreadable:
                db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
            return session

    def save(self, sid: str, session: dict[str, Any]) -> None:
        if self.behaviour.extra_field:
            session = {**session, "seen": session.get("seen", 0) + 1}
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO sessions (id, data, expires) VALUES (?, ?, ?)",
                       (sid, self._encode(session), time.time() + IDLE_SECONDS))

    def _encode(self, session: dict[str, Any]) -> str:
        if self.behaviour.writes == 1:
            return json.dumps(session)
        renamed = {"principal": session["user"], "items": session["notes"]}
        return FORMAT_2_PREFIX + base64.urlsafe_b64encode(json.dumps(renamed).encode()).decode()

    def _decode(self, data: str) -> dict[str, Any] | None:
        if data.startswith(FORMAT_2_PREFIX):
            if 2 not in self.behaviour.reads:
                return None
            record = json.loads(base64.urlsafe_b64decode(data[len(FORMAT_2_PREFIX):]))
            return {"user": record["principal"], "notes": record["items"]}
        if 1 not in self.behaviour.reads:
            return None
        try:
            record = json.loads(data)
        except ValueError:
            return None
        return record if isinstance(record, dict) and "user" in record else None


def build_app(*, version: str, store_path: str | Path, latency_ms: float = 0) -> "Starlette | _Delayed":
    store = SessionStore(store_path, BEHAVIOUR[version])

    async def form_or_json(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                value = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
        return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}

    def bearer(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    def account(session: dict[str, Any]) -> dict[str, Any]:
        return {"user": session["user"], "notes": session["notes"], "version": version}

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": version})

    async def home(request: Request) -> Response:
        return JSONResponse({"app": "sessionapp", "version": version})

    async def login_page(request: Request) -> Response:
        return Response("<form method=post action=/login><input name=user><input name=password type=password>"
                        "</form>", media_type="text/html")

    async def login(request: Request) -> Response:
        fields = await form_or_json(request)
        if not fields.get("user") or not fields.get("password"):
            return Response("user and password required", status_code=400)
        response = RedirectResponse("/account", status_code=303)
        response.set_cookie(COOKIE, store.create(str(fields["user"])), httponly=True, samesite="lax")
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def to_login(request: Request) -> Response:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    async def browser_account(request: Request) -> Response:
        session = store.load(request.cookies.get(COOKIE))
        return JSONResponse(account(session)) if session else to_login(request)

    async def browser_note(request: Request) -> Response:
        sid = request.cookies.get(COOKIE)
        session = store.load(sid)
        return await add_note(request, sid, session) if session else to_login(request)

    async def token(request: Request) -> Response:
        fields = await form_or_json(request)
        if not fields.get("user") or not fields.get("password"):
            return JSONResponse({"error": "user and password required"}, status_code=400)
        return JSONResponse({"token": store.create(str(fields["user"]))})

    async def api_account(request: Request) -> Response:
        session = store.load(bearer(request))
        return JSONResponse(account(session)) if session else not_authenticated()

    async def api_note(request: Request) -> Response:
        sid = bearer(request)
        session = store.load(sid)
        return await add_note(request, sid, session) if session else not_authenticated()

    async def add_note(request: Request, sid: str, session: dict[str, Any]) -> Response:
        text = str((await form_or_json(request)).get("text", ""))
        note = {"id": len(session["notes"]) + 1, "text": text}
        store.save(sid, {**session, "notes": [*session["notes"], note]})
        return JSONResponse(note, status_code=201)

    def not_authenticated() -> Response:
        return JSONResponse({"error": "not authenticated"}, status_code=401,
                            headers={"www-authenticate": "Bearer"})

    app = Starlette(routes=[
        Route("/healthz", health), Route("/", home),
        Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account", browser_account), Route("/notes", browser_note, methods=["POST"]),
        Route("/api/token", token, methods=["POST"]),
        Route("/api/account", api_account), Route("/api/notes", api_note, methods=["POST"]),
    ])
    return _Delayed(app, latency_ms / 1000) if latency_ms else app


class _Delayed:
    """Adds latency to every request but the readiness check."""

    def __init__(self, app: Starlette, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] != "/healthz":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)
