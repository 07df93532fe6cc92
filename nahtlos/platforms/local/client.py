"""``LocalPlatform``: the ``Platform`` protocol over the local daemon's admin API (httpx).

    platform = LocalPlatform.up(app, state_dir=".nahtlos/platform")       # start (or reuse) + deploy current
    platform = LocalPlatform(app, state_dir=".nahtlos/platform")          # attach to a running daemon
    platform = LocalPlatform(address="http://127.0.0.1:8470", token=...)  # attach by address
    platform.deploy(module="forms", version="2.0.0")
    platform.set_weights(module="forms", weights={"1.4.0": 90, "2.0.0": 10})

HTTP errors come back as the nahtlos error tree: 400 InvalidInput, 401
AccessDenied, 404 UnknownObject, 409 Conflict (not transient), 422
DeployRefused, other failures PlatformError; no daemon is PlatformUnreachable.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from nahtlos.descriptor import Application
from nahtlos.errors import (AccessDenied, Conflict, DeployRefused, InvalidInput, NahtlosError, PlatformError,
                            PlatformUnreachable, UnknownObject)
from nahtlos.platforms.base import DrainReport, PlatformStatus, TrafficSplit, VersionStatus
from nahtlos.platforms.local.launcher import running_daemon, start_daemon, stop_orphans, wait_for_exit
from nahtlos.platforms.local.state import StateDir

_BY_STATUS: dict[int, type[NahtlosError]] = {400: InvalidInput, 401: AccessDenied, 404: UnknownObject,
                                             409: Conflict, 422: DeployRefused}


class LocalPlatform:
    """Client of one local platform daemon. Implements ``nahtlos.platforms.base.Platform``."""

    def __init__(self, application: Application | None = None, *, state_dir: str | Path | None = None,
                 address: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        if state_dir is None and (address is None or token is None):
            raise InvalidInput("LocalPlatform needs state_dir, or address and token")
        self.application = application
        self.state = StateDir(state_dir) if state_dir is not None else None
        self._address, self._token = address, token
        self._http = httpx.Client(timeout=timeout)
        self._pushed = application is None

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    def up(cls, application: Application, *, state_dir: str | Path, deploy_current: bool = True,
           timeout: float = 120.0) -> "LocalPlatform":
        """Start the daemon for ``application`` (or reuse the running one), wait until it has
        restored its state, and with ``deploy_current`` run every module's ``deployed`` version."""
        state = StateDir(state_dir)
        start_daemon(application, state)
        platform = cls(application, state_dir=state.path)
        platform.wait_restored(timeout=timeout)
        if deploy_current:
            platform.deploy_current(timeout=timeout)
        return platform

    def down(self, *, timeout: float = 60.0) -> None:
        """Stop every version and the daemon, and forget the desired state (idempotent)."""
        info = running_daemon(self.state) if self.state else None
        if self.state is not None and info is None:
            stop_orphans(self.state)
            for path in (self.state.desired, self.state.pins):
                path.unlink(missing_ok=True)
            return
        self._call("POST", "/v1/shutdown")
        if info is not None and not wait_for_exit(info["pid"], info.get("start_ticks"), timeout):
            raise PlatformError(f"the daemon did not stop within {timeout:g} s", subject=str(self.state.path))

    def wait_restored(self, *, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self._call("GET", "/v1/health")["restoring"]:
            if time.monotonic() > deadline:
                raise PlatformError(f"the daemon did not finish restoring within {timeout:g} s")
            time.sleep(0.1)

    def deploy_current(self, *, timeout: float = 120.0) -> None:
        """Deploy each module's ``deployed`` version with all traffic, unless the module already runs one."""
        app = self._app()
        status = self.status()
        for name, module in app.modules.items():
            if module.run is None or module.run.local is None:
                continue
            if any(v.state in ("ready", "draining") for v in status.modules[name].versions.values()):
                continue
            self.deploy(module=name, version=module.deployed, timeout=timeout)
            self.set_weights(module=name, weights={module.deployed: 100})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "LocalPlatform":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the Platform protocol ----------------------------------------------------------------------

    def deploy(self, *, module: str, version: str, timeout: float = 120.0) -> VersionStatus:
        data = self._call("POST", f"/v1/modules/{module}/versions/{version}/deploy", {"timeout": timeout},
                          timeout=timeout + 15)
        return VersionStatus.model_validate(data)

    def set_weights(self, *, module: str, weights: dict[str, int]) -> TrafficSplit:
        return TrafficSplit.model_validate(self._call("PUT", f"/v1/modules/{module}/weights", {"weights": weights}))

    def traffic(self, *, module: str) -> TrafficSplit:
        return TrafficSplit.model_validate(self._call("GET", f"/v1/modules/{module}/traffic"))

    def drain(self, *, module: str, version: str, deadline: float, move_to: str | None = None) -> DrainReport:
        data = self._call("POST", f"/v1/modules/{module}/versions/{version}/drain",
                          {"deadline": deadline, "move_to": move_to}, timeout=deadline + 15)
        return DrainReport.model_validate(data)

    def move_sessions(self, *, module: str, from_version: str, to_version: str) -> int:
        data = self._call("POST", f"/v1/modules/{module}/sessions/move",
                          {"from_version": from_version, "to_version": to_version})
        return int(data["moved"])

    def retire(self, *, module: str, version: str) -> None:
        self._call("DELETE", f"/v1/modules/{module}/versions/{version}", timeout=120.0)

    def status(self) -> PlatformStatus:
        return PlatformStatus.model_validate(self._call("GET", "/v1/status"))

    def set_release_state(self, *, module: str, state: dict[str, Any]) -> None:
        self._call("PUT", f"/v1/modules/{module}/release-state", {"state": state})

    # -- addresses (local extras: smoke tests and probes talk to one version directly) --------------

    def version_address(self, *, module: str, version: str) -> str:
        """Direct URL of one version, bypassing weights and pins."""
        found = self.status().modules.get(module)
        if found is None or version not in found.versions or found.versions[version].address is None:
            raise UnknownObject(f"version {version} is not deployed", subject=f"module {module}")
        return found.versions[version].address

    def service_address(self, *, module: str) -> str:
        """Stable URL of a module (follows weights and pins), as other modules see it."""
        found = self.status().modules.get(module)
        if found is None or found.service_address is None:
            raise UnknownObject(f"unknown module {module!r}")
        return found.service_address

    def entry_address(self) -> str | None:
        """Public entry URL of the application (the ``entry`` module), or None without one."""
        return self.status().entry_address

    def metrics(self) -> str:
        """Per-version statistics in Prometheus text format (the daemon's ``/metrics``)."""
        address, _ = self._endpoint()
        try:
            response = self._http.get(address + "/metrics")
        except httpx.HTTPError as exc:
            raise PlatformUnreachable(f"cannot reach the platform daemon ({type(exc).__name__})") from None
        return response.text

    # -- HTTP ---------------------------------------------------------------------------------------

    def _app(self) -> Application:
        if self.application is None:
            raise InvalidInput("this LocalPlatform was created without the Application")
        return self.application

    def _endpoint(self) -> tuple[str, str]:
        if self._address is not None:
            return self._address.rstrip("/"), self._token or self.state.token(create=False)
        if self.state is not None:
            info = running_daemon(self.state)
            if info is None:
                raise PlatformUnreachable("the local platform daemon is not running", subject=str(self.state.path),
                                          hint="start it with `nahtlos platform up DESCRIPTOR`")
            return info["admin_url"], self._token or self.state.token(create=False)
        return self._address, self._token

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              timeout: float | None = None) -> Any:
        if not self._pushed:  # the daemon learns this (possibly newer) descriptor before the first verb
            self._pushed = True
            try:
                self._call("PUT", "/v1/application",
                           {"application": self.application.model_dump(mode="json", by_alias=True, exclude_none=True)})
            except NahtlosError:
                self._pushed = False
                raise
        address, token = self._endpoint()
        try:
            response = self._http.request(method, address + path, json=body,
                                          headers={"authorization": f"Bearer {token}"},
                                          timeout=timeout or self._http.timeout)
        except httpx.HTTPError as exc:
            raise PlatformUnreachable(f"cannot reach the platform daemon at {address} ({type(exc).__name__})",
                                      hint="is it running? see `nahtlos platform status`") from None
        try:
            data = response.json()
        except ValueError:
            data = {"message": f"HTTP {response.status_code} without a JSON body"}
        if response.status_code >= 400:
            error = _BY_STATUS.get(response.status_code, PlatformError)
            message = data.get("message", "") if isinstance(data, dict) else str(data)
            raise error(message, transient=False) if error is Conflict else error(message)
        return data
