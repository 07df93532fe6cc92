"""appointments: appointment slots at the citizen offices (appointments-api).

- ``GET /api/slots?office=&limit=`` -> ``{"slots": [{"id", "office", "start"}]}`` (free ones only)
- ``POST /api/bookings`` ``{"user_id", "slot_id"}`` -> 201 booking, 409 when taken; confirms by e-mail
- ``GET /api/bookings?user_id=`` -> ``{"bookings": [...]}``

Bookings live in Redis (``bs:slot:<id>``, ``bs:bookings:<user>``), shared by
all versions like a database would be. appointments-api 1.3 (1.3.0) is
additive: slots carry ``duration_minutes`` and ``accessible``, and
``?accessible=true`` filters on it.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import (ServiceInfo, Upstreams, build_app, closing_lifespan, json_body,
                                             redis_from_env, redis_ready)

OFFICES = {"kvr-ruppertstrasse": ("KVR Ruppertstraße", True), "bb-pasing": ("Bürgerbüro Pasing", False),
           "bb-riem": ("Bürgerbüro Riem", True), "bb-leonrodplatz": ("Bürgerbüro Leonrodplatz", True)}
SLOT_MINUTES = 20
KEEP_SECONDS = 7 * 24 * 3600


def _slot_starts(days: int = 5) -> list[dt.datetime]:
    """Slots on the next ``days`` weekdays, 08:00 to 15:40 every 20 minutes."""
    day, starts = dt.date.today(), []
    while len({s.date() for s in starts}) < days:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            first = dt.datetime.combine(day, dt.time(8, 0))
            starts += [first + dt.timedelta(minutes=SLOT_MINUTES * i) for i in range(24)]
    return starts


def _slot_id(office: str, start: dt.datetime) -> str:
    return f"{office}-{start:%Y%m%d-%H%M}"


def create_app(info: ServiceInfo) -> ASGIApp:
    redis, upstreams = redis_from_env(info.module), Upstreams()
    additive = info.at_least("1.3.0")

    def describe(office: str, start: dt.datetime) -> dict[str, object]:
        slot: dict[str, object] = {"id": _slot_id(office, start), "office": OFFICES[office][0],
                                   "start": start.isoformat(timespec="minutes")}
        if additive:
            slot.update(duration_minutes=SLOT_MINUTES, accessible=OFFICES[office][1])
        return slot

    async def slots(request: Request) -> JSONResponse:
        office = request.query_params.get("office", "kvr-ruppertstrasse")
        if office not in OFFICES:
            return JSONResponse({"error": "unknown office"}, status_code=404)
        if additive and request.query_params.get("accessible") == "true" and not OFFICES[office][1]:
            return JSONResponse({"slots": []})
        limit = min(max(int(request.query_params.get("limit", "10") or 10), 1), 50)
        candidates = _slot_starts()[:limit * 2]
        taken = await redis.mget([f"bs:slot:{_slot_id(office, s)}" for s in candidates])
        free = [describe(office, s) for s, owner in zip(candidates, taken) if owner is None]
        return JSONResponse({"slots": free[:limit]})

    async def book(request: Request) -> JSONResponse:
        body = await json_body(request)
        user_id, slot_id = body.get("user_id"), body.get("slot_id")
        known = {_slot_id(o, s): (o, s) for o in OFFICES for s in _slot_starts()}
        if not isinstance(user_id, str) or slot_id not in known:
            return JSONResponse({"error": "user_id and a bookable slot_id are required"}, status_code=422)
        if not await redis.set(f"bs:slot:{slot_id}", user_id, nx=True, ex=KEEP_SECONDS):
            return JSONResponse({"error": "slot already taken"}, status_code=409)
        booking = {**describe(*known[slot_id]), "booked": time.time()}
        key = f"bs:bookings:{user_id}"
        await redis.pipeline().lpush(key, json.dumps(booking)).ltrim(key, 0, 19).expire(key, KEEP_SECONDS).execute()
        await upstreams.call("notifications", "POST", "/api/messages", expect=(202,), json={
            "to": user_id, "subject": f"Ihr Termin am {booking['start']}", "template": "appointment-confirmation"})
        return JSONResponse(booking, status_code=201)

    async def bookings(request: Request) -> JSONResponse:
        user_id = request.query_params.get("user_id", "")
        raw = await redis.lrange(f"bs:bookings:{user_id}", 0, 19)
        return JSONResponse({"bookings": [json.loads(item) for item in raw]})

    return build_app(info, [
        Route("/api/slots", slots),
        Route("/api/bookings", book, methods=["POST"]),
        Route("/api/bookings", bookings),
    ], lifespan=closing_lifespan(upstreams, redis), ready=redis_ready(redis))
