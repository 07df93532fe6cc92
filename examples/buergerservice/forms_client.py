"""The gateway's view of forms-api: major 1 for gateway 1.8.0, major 2 for gateway 2.0.0.

Both adapters return the same shapes, so the gateway's own API does not change
with the forms-api major it consumes:

- a form: ``{"id", "title", "pages": [{"name", "title", "fields": [{"name", "label", "type", "required"}]}]}``
- a page check: ``PageCheck(errors={field: message}, derived={...})``, None for an unknown form or page
- a submission: ``Submitted(reference=...)`` or ``Submitted(missing=[...])``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from examples.buergerservice.service import Upstreams


@dataclass(frozen=True)
class PageCheck:
    errors: dict[str, str]
    derived: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Submitted:
    reference: str | None = None
    missing: list[str] = field(default_factory=list)


class FormsV1:
    major = 1

    def __init__(self, upstreams: Upstreams) -> None:
        self._up = upstreams

    async def catalogue(self) -> list[dict[str, str]]:
        return (await self._up.json("forms", "GET", "/v1/forms"))["forms"]

    async def definition(self, form: str) -> dict[str, Any] | None:
        response = await self._up.call("forms", "GET", f"/v1/forms/{form}", expect=(200, 404))
        if response.status_code == 404:
            return None
        body = response.json()
        return {"id": body["id"], "title": body["title"], "pages": body["pages"]}

    async def check(self, form: str, page: str, values: dict[str, str]) -> PageCheck | None:
        response = await self._up.call("forms", "POST", f"/v1/forms/{form}/pages/{page}/validate",
                                       expect=(200, 404), json={"fields": values})
        return PageCheck(response.json()["errors"]) if response.status_code == 200 else None

    async def submit(self, form: str, user_id: str, pages: dict[str, dict[str, str]]) -> Submitted:
        flat = {f"{page}.{name}": value for page, values in pages.items() for name, value in values.items()}
        response = await self._up.call("forms", "POST", f"/v1/forms/{form}/submissions",
                                       expect=(201, 422), json={"user_id": user_id, "fields": flat})
        body = response.json()
        return Submitted(reference=body["reference"]) if response.status_code == 201 else Submitted(
            missing=body["missing"])


class FormsV2(FormsV1):
    major = 2

    async def catalogue(self) -> list[dict[str, str]]:
        items = (await self._up.json("forms", "GET", "/v2/forms"))["items"]
        return [{"id": item["form_id"], "title": item["title"]} for item in items]

    async def definition(self, form: str) -> dict[str, Any] | None:
        response = await self._up.call("forms", "GET", f"/v2/forms/{form}", expect=(200, 404))
        if response.status_code == 404:
            return None
        body = response.json()
        pages = [{"name": step["id"], "title": step["title"], "fields": [
            {"name": i["key"], "label": i["label"], "type": i["kind"], "required": i["mandatory"]}
            for i in step["inputs"]]} for step in body["steps"]]
        return {"id": body["form_id"], "title": body["title"], "pages": pages}

    async def check(self, form: str, page: str, values: dict[str, str]) -> PageCheck | None:
        response = await self._up.call("forms", "POST", f"/v2/forms/{form}/steps/{page}/check",
                                       expect=(200, 404), json={"values": values})
        if response.status_code == 404:
            return None
        body = response.json()
        return PageCheck({p["key"]: p["message"] for p in body["problems"]}, body["derived"])

    async def submit(self, form: str, user_id: str, pages: dict[str, dict[str, str]]) -> Submitted:
        response = await self._up.call("forms", "POST", "/v2/submissions", expect=(201, 422),
                                       json={"form_id": form, "user_id": user_id, "steps": pages})
        body = response.json()
        return Submitted(reference=body["reference"]) if response.status_code == 201 else Submitted(
            missing=body["missing"])
