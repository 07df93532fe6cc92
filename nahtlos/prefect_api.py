"""A small client of the Prefect REST API for CI: start a deployment's flow run, wait, read the outcome.

httpx only (no ``prefect`` import), so the CLI stays fast and works from any CI image.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from nahtlos.errors import InvalidInput, NahtlosError, PlatformUnreachable

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class PrefectApi:
    def __init__(self, url: str | None = None, *, timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get("PREFECT_API_URL") or "http://127.0.0.1:4200/api").rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise PlatformUnreachable(f"cannot reach the Prefect API ({type(exc).__name__})", subject=self.url,
                                      hint="start the Prefect server or set PREFECT_API_URL") from None
        if response.status_code == 404:
            raise InvalidInput(f"not found: {path}", subject=self.url,
                               hint="deploy the flows first: prefect --no-prompt deploy --all")
        if response.status_code == 409 or response.status_code == 422:
            detail = response.json().get("detail", response.text[:300]) if response.content else ""
            raise InvalidInput(f"the Prefect API rejected the request: {detail}", subject=path)
        if response.status_code >= 400:
            raise NahtlosError(f"the Prefect API answered {response.status_code}", subject=f"{self.url}{path}")
        return response.json()

    def start(self, flow: str, deployment: str, parameters: dict[str, Any], tags: list[str]) -> dict[str, Any]:
        found = self._call("GET", f"/deployments/name/{flow}/{deployment}")
        return self._call("POST", f"/deployments/{found['id']}/create_flow_run",
                          json={"parameters": parameters, "tags": tags})

    def flow_run(self, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/flow_runs/{run_id}")

    def wait(self, run_id: str, *, poll: float = 2.0, timeout: float | None = None,
             on_change=lambda run: None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            run = self.flow_run(run_id)
            state = (run.get("state") or {})
            if state.get("name") != last:
                last = state.get("name")
                on_change(run)
            if state.get("type") in TERMINAL:
                return run
            if deadline is not None and time.monotonic() > deadline:
                return run
            time.sleep(poll)

    def ui_url(self, run_id: str) -> str:
        base = self.url[: -len("/api")] if self.url.endswith("/api") else self.url
        return f"{base}/runs/flow-run/{run_id}"


def outcome_of(run: dict[str, Any]) -> tuple[str, int]:
    """(outcome, exit code) from a finished release run's final state."""
    state = run.get("state") or {}
    name, kind = state.get("name"), state.get("type")
    if kind == "COMPLETED":
        return ("promoted" if name in ("Promoted", "Completed") else name.lower()), 0
    if name == "RolledBack":
        return "rolled_back", 3
    if name == "Refused":
        return "refused", 3
    if kind in TERMINAL:
        return (name or kind).lower(), 1
    return "running", 1
