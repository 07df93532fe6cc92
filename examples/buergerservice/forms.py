"""forms: the catalogue of multi-page application forms (forms-api; consumes registry-api).

forms-api 1.x under ``/v1``:
- ``GET /v1/forms`` -> ``{"forms": [{"id", "title"}]}``
- ``GET /v1/forms/{id}`` -> ``{"id", "title", "pages": [{"name", "title", "fields": [{"name", "label", "type", "required"}]}]}``
- ``POST /v1/forms/{id}/pages/{page}/validate`` ``{"fields"}`` -> ``{"valid", "errors": {field: message}}``
- ``POST /v1/forms/{id}/submissions`` ``{"user_id", "fields": {"page.field": value}}`` -> 201 ``{"reference", "form"}``

forms-api 2.0 under ``/v2`` (breaking: renamed and regrouped):
- ``GET /v2/forms`` -> ``{"items": [{"form_id", "title", "steps"}]}``
- ``GET /v2/forms/{id}`` -> ``{"form_id", "title", "steps": [{"id", "title", "inputs": [{"key", "label", "kind", "mandatory"}]}]}``
- ``POST /v2/forms/{id}/steps/{step}/check`` ``{"values"}`` -> ``{"ok", "problems": [{"key", "message"}], "derived"}``
- ``POST /v2/submissions`` ``{"form_id", "user_id", "steps": {step: {key: value}}}`` -> 201 ``{"reference", "form_id"}``

forms 1.4.0 serves forms-api 1.4 only. forms 2.0.0 is the expand step: it
serves 1.5 (1.4 plus a ``successor`` link) and 2.0, and needs registry-api 2.1
because 2.0 derives the city district from the address.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import (ServiceInfo, UpstreamFailed, Upstreams, build_app,
                                             closing_lifespan, json_body)


def _page(name: str, title: str, *fields: tuple[str, str, str, bool]) -> dict[str, Any]:
    return {"name": name, "title": title,
            "fields": [{"name": n, "label": label, "type": kind, "required": required}
                       for n, label, kind, required in fields]}


CATALOGUE: dict[str, dict[str, Any]] = {
    "residence-registration": {"title": "Anmeldung einer Wohnung", "pages": [
        _page("personal", "Angaben zur Person", ("first_name", "Vorname", "text", True),
              ("last_name", "Familienname", "text", True), ("birth_date", "Geburtsdatum", "date", True)),
        _page("address", "Neue Wohnung", ("street", "Straße und Hausnummer", "text", True),
              ("postcode", "Postleitzahl", "postcode", True), ("move_in", "Einzugsdatum", "date", True)),
        _page("household", "Haushalt", ("persons", "Personen im Haushalt", "number", True),
              ("previous_city", "Bisheriger Wohnort", "text", False)),
    ]},
    "parking-permit": {"title": "Bewohnerparkausweis", "pages": [
        _page("applicant", "Antragsteller", ("last_name", "Familienname", "text", True),
              ("postcode", "Postleitzahl", "postcode", True)),
        _page("vehicle", "Fahrzeug", ("plate", "Kennzeichen", "plate", True),
              ("make", "Hersteller", "text", False)),
        _page("contact", "Kontakt", ("email", "E-Mail", "email", True)),
    ]},
    "dog-licence": {"title": "Hundesteuer-Anmeldung", "pages": [
        _page("owner", "Halterin oder Halter", ("last_name", "Familienname", "text", True),
              ("postcode", "Postleitzahl", "postcode", True)),
        _page("dog", "Hund", ("dog_name", "Name des Hundes", "text", True),
              ("breed", "Rasse", "text", False), ("born", "Geburtsdatum", "date", False)),
    ]},
}

_CHECKS = {
    "date": (re.compile(r"\d{4}-\d{2}-\d{2}"), "expected a date YYYY-MM-DD"),
    "number": (re.compile(r"\d{1,3}"), "expected a whole number"),
    "email": (re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}"), "expected an e-mail address"),
    "postcode": (re.compile(r"\d{5}"), "expected a five-digit postcode"),
    "plate": (re.compile(r"[A-ZÄÖÜ]{1,3}-[A-Z]{1,2} ?\d{1,4}[EH]?"), "expected a plate like M-AB 1234"),
    "text": (re.compile(r".{1,200}", re.S), "expected 1 to 200 characters"),
}


def _field_types(form: str, page: str) -> dict[str, str] | None:
    for entry in CATALOGUE.get(form, {}).get("pages", []):
        if entry["name"] == page:
            return {field["name"]: field["type"] for field in entry["fields"]}
    return None


def check_page(form: str, page: str, values: dict[str, Any]) -> dict[str, str] | None:
    """Field problems of one page (None when form or page is unknown)."""
    types = _field_types(form, page)
    if types is None:
        return None
    errors: dict[str, str] = {}
    for name, value in values.items():
        if name not in types:
            errors[name] = "unknown field"
            continue
        pattern, message = _CHECKS[types[name]]
        if not isinstance(value, str) or (value and not pattern.fullmatch(value)):
            errors[name] = message
    return errors


def missing_required(form: str, pages: dict[str, dict[str, str]]) -> list[str]:
    return [f"{entry['name']}.{field['name']}" for entry in CATALOGUE[form]["pages"]
            for field in entry["fields"]
            if field["required"] and not pages.get(entry["name"], {}).get(field["name"])]


def _as_v2(form_id: str) -> dict[str, Any]:
    form = CATALOGUE[form_id]
    return {"form_id": form_id, "title": form["title"], "steps": [
        {"id": page["name"], "title": page["title"], "inputs": [
            {"key": f["name"], "label": f["label"], "kind": f["type"], "mandatory": f["required"]}
            for f in page["fields"]]} for page in form["pages"]]}


def create_app(info: ServiceInfo) -> ASGIApp:
    upstreams = Upstreams()
    serves_v2 = info.at_least("2.0.0")

    async def registry_address(postcode: str) -> dict[str, Any]:
        return await upstreams.json("registry", "GET", "/api/addresses/lookup", params={"postcode": postcode})

    async def checked(form: str, page: str, values: dict[str, Any]) -> dict[str, str] | None:
        errors = check_page(form, page, values)
        postcode = values.get("postcode")
        if errors is not None and postcode and "postcode" not in errors:
            if not (await registry_address(postcode))["valid"]:
                errors["postcode"] = "not a postcode of this city"
        return errors

    async def list_v1(request: Request) -> JSONResponse:
        return JSONResponse({"forms": [{"id": k, "title": v["title"]} for k, v in CATALOGUE.items()]})

    async def get_v1(request: Request) -> JSONResponse:
        form_id = request.path_params["form"]
        if form_id not in CATALOGUE:
            return _not_found()
        body = {"id": form_id, **CATALOGUE[form_id]}
        if serves_v2:  # forms-api 1.5: additive pointer to the successor
            body["successor"] = f"/v2/forms/{form_id}"
        return JSONResponse(body)

    async def validate_v1(request: Request) -> JSONResponse:
        fields = (await json_body(request)).get("fields")
        errors = await checked(request.path_params["form"], request.path_params["page"],
                               fields if isinstance(fields, dict) else {})
        if errors is None:
            return _not_found()
        return JSONResponse({"valid": not errors, "errors": errors})

    async def submit_v1(request: Request) -> JSONResponse:
        body = await json_body(request)
        form_id, fields = request.path_params["form"], body.get("fields")
        if form_id not in CATALOGUE or not isinstance(fields, dict):
            return _not_found()
        pages: dict[str, dict[str, str]] = {}
        for key, value in fields.items():
            page, _, name = str(key).partition(".")
            pages.setdefault(page, {})[name] = value
        return _submitted(form_id, pages, {"form": form_id})

    async def list_v2(request: Request) -> JSONResponse:
        return JSONResponse({"items": [{"form_id": k, "title": v["title"], "steps": len(v["pages"])}
                                       for k, v in CATALOGUE.items()]})

    async def get_v2(request: Request) -> JSONResponse:
        form_id = request.path_params["form"]
        return JSONResponse(_as_v2(form_id)) if form_id in CATALOGUE else _not_found()

    async def check_v2(request: Request) -> JSONResponse:
        values = (await json_body(request)).get("values")
        values = values if isinstance(values, dict) else {}
        errors = await checked(request.path_params["form"], request.path_params["step"], values)
        if errors is None:
            return _not_found()
        derived: dict[str, str] = {}
        if values.get("postcode") and "postcode" not in errors:
            address = await registry_address(values["postcode"])
            if "district" not in address:
                raise UpstreamFailed("registry", "answered without district: registry-api 2.1 is required")
            derived["district"] = address["district"]
        problems = [{"key": key, "message": message} for key, message in errors.items()]
        return JSONResponse({"ok": not problems, "problems": problems, "derived": derived})

    async def submit_v2(request: Request) -> JSONResponse:
        body = await json_body(request)
        form_id, steps = body.get("form_id"), body.get("steps")
        if form_id not in CATALOGUE or not isinstance(steps, dict):
            return _not_found()
        return _submitted(form_id, steps, {"form_id": form_id})

    routes = [
        Route("/v1/forms", list_v1),
        Route("/v1/forms/{form}", get_v1),
        Route("/v1/forms/{form}/pages/{page}/validate", validate_v1, methods=["POST"]),
        Route("/v1/forms/{form}/submissions", submit_v1, methods=["POST"]),
    ]
    if serves_v2:
        routes += [
            Route("/v2/forms", list_v2),
            Route("/v2/forms/{form}", get_v2),
            Route("/v2/forms/{form}/steps/{step}/check", check_v2, methods=["POST"]),
            Route("/v2/submissions", submit_v2, methods=["POST"]),
        ]
    return build_app(info, routes, lifespan=closing_lifespan(upstreams))


def _submitted(form_id: str, pages: dict[str, dict[str, str]], identity: dict[str, str]) -> JSONResponse:
    missing = missing_required(form_id, pages)
    if missing:
        return JSONResponse({"error": "required fields missing", "missing": missing}, status_code=422)
    reference = "BS-" + secrets.token_hex(4).upper()
    return JSONResponse({"reference": reference, **identity}, status_code=201)


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "unknown form or page"}, status_code=404)
