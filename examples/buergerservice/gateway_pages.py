"""The gateway's HTML pages: login, dashboard, multi-page forms with server-side drafts, appointments.

Pages without a session redirect (303) to ``/login``, as a browser would see it.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from examples.buergerservice.gateway import COOKIE, Gateway, draft_of, set_session_cookie
from examples.buergerservice.pages import field_input, layout
from examples.buergerservice.session_store import LoadedSession


async def form_data(request: Request) -> dict[str, str]:
    """An urlencoded body (what browsers send for these forms)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def to_login() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def routes(gw: Gateway) -> list[BaseRoute]:
    version = gw.info.version

    def html(title: str, body: str, *, status: int = 200, logged_in: bool = True) -> HTMLResponse:
        return HTMLResponse(layout(title, body, version=version, logged_in=logged_in), status_code=status)

    def page(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            loaded = await gw.session(request)
            return to_login() if loaded is None else await handler(request, loaded)
        return endpoint

    def login_page(error: str = "", status: int = 200) -> HTMLResponse:
        message = f'<p class="error">{escape(error)}</p>' if error else ""
        body = (f'{message}<form method="post" action="/login"><label for="username">Benutzername</label>'
                '<input id="username" name="username" autocomplete="username">'
                '<label for="password">Passwort</label><input id="password" name="password" type="password">'
                '<button>Anmelden</button></form>')
        return html("Anmelden", body, status=status, logged_in=False)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return login_page()
        data = await form_data(request)
        sid = await gw.login(data.get("username"), data.get("password"), previous=request.cookies.get(COOKIE))
        if sid is None:
            return login_page("Benutzername oder Passwort falsch.", status=401)
        response = RedirectResponse("/", status_code=303)
        set_session_cookie(response, sid)
        return response

    async def logout(request: Request) -> Response:
        if sid := request.cookies.get(COOKIE):
            await gw.store.delete(sid)
        return to_login()

    async def dashboard(request: Request, loaded: LoadedSession) -> Response:
        fragment = await gw.upstreams.call("portal", "GET", "/ui/dashboard", expect=(200, 401),
                                           headers={"x-session-id": loaded.sid})
        if fragment.status_code == 401:
            return to_login()
        return html("Ihre Übersicht", fragment.text)

    async def forms_index(request: Request, loaded: LoadedSession) -> Response:
        items = "".join(f'<li><a href="/forms/{escape(f["id"])}">{escape(f["title"])}</a></li>'
                        for f in await gw.forms.catalogue())
        return html("Anträge", f"<ul>{items}</ul>")

    async def form_start(request: Request, loaded: LoadedSession) -> Response:
        definition = await gw.forms.definition(request.path_params["form"])
        if definition is None:
            return html("Unbekannter Antrag", "<p>Diesen Antrag gibt es nicht.</p>", status=404)
        return RedirectResponse(f"/forms/{definition['id']}/{definition['pages'][0]['name']}", status_code=303)

    async def form_page(request: Request, loaded: LoadedSession) -> Response:
        form, page_name = request.path_params["form"], request.path_params["page"]
        definition = await gw.forms.definition(form)
        names = [p["name"] for p in definition["pages"]] if definition else []
        if page_name not in names:
            return html("Unbekannte Seite", "<p>Diese Seite gibt es nicht.</p>", status=404)
        fields = definition["pages"][names.index(page_name)]["fields"]
        errors: dict[str, str] = {}
        if request.method == "POST":
            data = await form_data(request)
            values = {f["name"]: data.get(f["name"], "") for f in fields}
            check, saved = await gw.save_draft(loaded, form, page_name, values)
            if saved is None:
                return to_login()
            loaded, errors = saved, check.errors if check else {}
            if not errors:
                following = names.index(page_name) + 1
                target = f"/forms/{form}/{names[following]}" if following < len(names) else f"/forms/{form}/{page_name}"
                return RedirectResponse(target, status_code=303)
        draft = draft_of(loaded.record, form) or {"pages": {}}
        saved_values = draft["pages"].get(page_name, {})
        steps = "".join(f'<a href="/forms/{escape(form)}/{escape(n)}">{i + 1}. {escape(p["title"])}</a>'
                        for i, (n, p) in enumerate(zip(names, definition["pages"])))
        problems = "".join(f'<p class="error">{escape(k)}: {escape(v)}</p>' for k, v in errors.items())
        inputs = "".join(field_input(f, saved_values.get(f["name"], "")) for f in fields)
        submit = (f'<form method="post" action="/forms/{escape(form)}/submit"><button>Antrag absenden</button></form>'
                  if page_name == names[-1] else "")
        body = (f'<p class="steps">{steps}</p>{problems}<form method="post">{inputs}'
                f'<button>Speichern und weiter</button></form>{submit}')
        return html(definition["title"], body, status=422 if errors else 200)

    async def form_submit(request: Request, loaded: LoadedSession) -> Response:
        submitted = await gw.submit(loaded, request.path_params["form"])
        if submitted is None:
            return html("Kein Entwurf", "<p>Zu diesem Antrag gibt es keinen Entwurf.</p>", status=404)
        if submitted.missing:
            items = "".join(f"<li>{escape(m)}</li>" for m in submitted.missing)
            return html("Angaben fehlen", f"<ul>{items}</ul>", status=422)
        return RedirectResponse("/", status_code=303)

    async def appointments(request: Request, loaded: LoadedSession) -> Response:
        user_id = loaded.record["account"]["id"]
        if request.method == "POST":
            slot = (await form_data(request)).get("slot_id")
            await gw.upstreams.call("appointments", "POST", "/api/bookings", expect=(201, 409, 422),
                                    json={"user_id": user_id, "slot_id": slot})
            return RedirectResponse("/appointments", status_code=303)
        slots = (await gw.upstreams.json("appointments", "GET", "/api/slots", params={"limit": "8"}))["slots"]
        booked = (await gw.upstreams.json("appointments", "GET", "/api/bookings",
                                          params={"user_id": user_id}))["bookings"]
        options = "".join(f'<li><form method="post"><input type="hidden" name="slot_id" value="{escape(s["id"])}">'
                          f'{escape(s["start"])}, {escape(s["office"])} <button>Buchen</button></form></li>'
                          for s in slots)
        mine = "".join(f"<li>{escape(b['start'])}, {escape(b['office'])}</li>" for b in booked) or "<li>keine</li>"
        return html("Termine", f"<h2>Ihre Termine</h2><ul>{mine}</ul><h2>Freie Termine</h2><ul>{options}</ul>")

    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", page(dashboard)),
        Route("/forms", page(forms_index)),
        Route("/forms/{form}", page(form_start)),
        Route("/forms/{form}/submit", page(form_submit), methods=["POST"]),
        Route("/forms/{form}/{page}", page(form_page), methods=["GET", "POST"]),
        Route("/appointments", page(appointments), methods=["GET", "POST"]),
    ]
