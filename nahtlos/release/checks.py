"""Smoke checks of the release: one version directly, and a wave's blast radius through services."""

from __future__ import annotations

from nahtlos.descriptor import Application
from nahtlos.errors import PlatformError
from nahtlos.platforms.base import Platform
from nahtlos.smoke import SmokeReport, run_smoke, version_base_url


def smoke_version(platform: Platform, app: Application, *, module: str, version: str) -> SmokeReport | None:
    """The module's checks against ``version`` alone, before it gets any traffic."""
    checks = app.modules[module].smoke or []
    if not checks:
        return None
    base = version_base_url(platform.status(), module=module, version=version)
    return run_smoke(checks=checks, base_url=base, target=f"{module} {version} (direct)")


def smoke_services(platform: Platform, app: Application, *, modules: list[str]) -> list[SmokeReport]:
    """Each module's checks through its service address, which follows the weights."""
    status = platform.status()
    reports = []
    for module in modules:
        checks = app.modules[module].smoke or []
        if not checks:
            continue
        found = status.modules.get(module)
        if found is None or not found.service_address:
            raise PlatformError("reports no service address", subject=f"module {module}")
        reports.append(run_smoke(checks=checks, base_url=found.service_address, target=f"{module} (service)"))
    return reports
