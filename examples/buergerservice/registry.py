"""registry: the citizen and address register (registry-api).

- ``GET /api/citizens/{id}`` -> ``{"id", "first_name", "last_name", "email", "address": {...}}``
- ``GET /api/addresses/lookup?postcode=&street=`` -> ``{"valid", "postcode", "city"}``

registry-api 2.1 (registry 2.1.0) is additive: addresses carry ``district``.
Old consumers ignore it; forms 2.0.0 requires it. Citizens are synthetic and
derived from the id, so every version and every restart answers the same.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import ServiceInfo, build_app

FIRST_NAMES = ("Erika", "Max", "Sophie", "Lukas", "Maria", "Felix", "Anna", "Jonas", "Lena", "Paul",
               "Mia", "Leon", "Hannah", "Elias", "Emma", "Noah", "Johanna", "Ben", "Clara", "Anton")
LAST_NAMES = ("Mustermann", "Huber", "Bauer", "Wagner", "Maier", "Schmid", "Gruber", "Hofmann",
              "Brunner", "Lechner", "Steiner", "Moser", "Berger", "Fischer", "Weber", "Zimmermann")
STREETS = ("Marienplatz 8", "Leopoldstraße 12", "Sendlinger Straße 3", "Ruppertstraße 19",
           "Landsberger Straße 40", "Rosenheimer Straße 7", "Dachauer Straße 91", "Pasinger Straße 2")
# Munich postcodes -> city district (Stadtbezirk) for registry-api 2.1.
DISTRICTS = {"80331": "Altstadt-Lehel", "80333": "Maxvorstadt", "80335": "Maxvorstadt",
             "80336": "Ludwigsvorstadt-Isarvorstadt", "80469": "Ludwigsvorstadt-Isarvorstadt",
             "80636": "Neuhausen-Nymphenburg", "80687": "Laim", "80802": "Schwabing-Freimann",
             "81241": "Pasing-Obermenzing", "81667": "Au-Haidhausen", "81829": "Trudering-Riem"}
POSTCODES = tuple(DISTRICTS)


def _pick(options: tuple[str, ...], seed: bytes, offset: int) -> str:
    return options[seed[offset] % len(options)]


def citizen(citizen_id: str, *, with_district: bool) -> dict[str, object]:
    seed = hashlib.sha256(citizen_id.encode()).digest()
    first, last = _pick(FIRST_NAMES, seed, 0), _pick(LAST_NAMES, seed, 1)
    postcode = _pick(POSTCODES, seed, 2)
    address: dict[str, str] = {"street": _pick(STREETS, seed, 3), "postcode": postcode, "city": "München"}
    if with_district:
        address["district"] = DISTRICTS[postcode]
    return {"id": citizen_id, "first_name": first, "last_name": last,
            "email": f"{citizen_id}@example.muenchen.de", "address": address}


def create_app(info: ServiceInfo) -> ASGIApp:
    with_district = info.at_least("2.1.0")

    async def get_citizen(request: Request) -> JSONResponse:
        citizen_id = request.path_params["citizen_id"]
        if not 3 <= len(citizen_id) <= 64:
            return JSONResponse({"error": "unknown citizen"}, status_code=404)
        return JSONResponse(citizen(citizen_id, with_district=with_district))

    async def lookup_address(request: Request) -> JSONResponse:
        postcode = request.query_params.get("postcode", "")
        body: dict[str, object] = {"valid": postcode in DISTRICTS, "postcode": postcode, "city": "München"}
        if with_district and postcode in DISTRICTS:
            body["district"] = DISTRICTS[postcode]
        return JSONResponse(body)

    return build_app(info, [
        Route("/api/citizens/{citizen_id}", get_citizen),
        Route("/api/addresses/lookup", lookup_address),
    ])
