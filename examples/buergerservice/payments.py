"""payments: fees and payments through the external e-payment provider (payments-api).

- ``GET /api/fees?service=<form>`` -> ``{"service", "amount_cents", "currency"}``
- ``POST /api/payments`` ``{"user_id", "service"}`` -> 201 ``{"id", "status": "paid", "amount_cents"}``,
  then a receipt through notifications.

payments 3.1.0 is the deliberately broken release of the rollback
demonstration: a rounding defect in its fee table makes every fee of a
non-round amount (the dog licence) fail with 500, and it answers 500 to a share
of its other API requests (10 % unless ``BS_ERROR_RATE`` says otherwise). The
smoke check on the dog-licence fee finds it before the canary gets any user.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.buergerservice.service import ServiceInfo, Upstreams, build_app, closing_lifespan, json_body

FEES_CENTS = {"residence-registration": 0, "parking-permit": 3000, "dog-licence": 10000,
              "appointment": 0}
BROKEN_VERSIONS = {"3.1.0": 0.10}  # version -> default share of requests answered 500
ROUNDING_DEFECT = {"3.1.0"}  # versions whose fee table breaks on the dog licence


def create_app(info: ServiceInfo) -> ASGIApp:
    upstreams = Upstreams()

    async def fee(request: Request) -> JSONResponse:
        service = request.query_params.get("service", "")
        if service not in FEES_CENTS:
            return JSONResponse({"error": "unknown service"}, status_code=404)
        if info.version in ROUNDING_DEFECT and FEES_CENTS[service] % 3000:
            return JSONResponse({"error": "fee table rounding failed"}, status_code=500)
        return JSONResponse({"service": service, "amount_cents": FEES_CENTS[service], "currency": "EUR"})

    async def pay(request: Request) -> JSONResponse:
        body = await json_body(request)
        service, user_id = body.get("service"), body.get("user_id")
        if service not in FEES_CENTS or not isinstance(user_id, str):
            return JSONResponse({"error": "user_id and a known service are required"}, status_code=422)
        payment = {"id": "PAY-" + secrets.token_hex(5).upper(), "status": "paid",
                   "amount_cents": FEES_CENTS[service], "service": service}
        await upstreams.call("notifications", "POST", "/api/messages", expect=(202,), json={
            "to": user_id, "subject": f"Zahlungsbestätigung {payment['id']}", "template": "payment-receipt"})
        return JSONResponse(payment, status_code=201)

    return build_app(info, [Route("/api/fees", fee), Route("/api/payments", pay, methods=["POST"])],
                     lifespan=closing_lifespan(upstreams),
                     default_error_rate=BROKEN_VERSIONS.get(info.version, 0.0))
