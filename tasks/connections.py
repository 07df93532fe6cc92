"""From block names to live connections, once per process.

Flows and sub-flows pass a small, serializable ``Target`` (the application and
the block names); tasks turn it into a platform client, a session store and a
metric provider here. Connections are cached per process, so the tasks of one
run share them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from nahtlos.analysis.platform_stats import PlatformStatsProvider
from nahtlos.analysis.window import MetricsProvider
from nahtlos.descriptor import Application
from nahtlos.platforms.base import Platform, PlatformStatus
from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.providers import MigrationProvider, provider_for
from nahtlos.sessions.store import SessionStore
from nahtlos.smoke import version_base_url
from nahtlos.versions import version_key


class Target(BaseModel):
    """What a release acts on: the application and where its infrastructure is described."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    application: str
    catalog: str = "default"  # ApplicationCatalog block
    platform: str = "nahtlos-local-platform/default"  # <block type slug>/<block name>
    session_store: str | None = "default"  # RedisSessionStoreConfig block; None: no managed sessions
    metrics: str | None = None  # PrometheusMetrics block; None: the platform's own statistics


@dataclass
class Connections:
    app: Application
    platform: Platform
    metrics: MetricsProvider
    store: SessionStore | None
    sessions: SessionsConfig | None

    def running(self, module: str) -> list[str]:
        """Versions of ``module`` running now, oldest first."""
        return _running(self.platform.status(), module)

    def migrations(self, *, serving: str | None = None) -> MigrationProvider:
        """The descriptor's migration provider. HTTP migrations are served by a running version of
        the module the descriptor names: ``serving`` when that one runs, else the newest."""
        assert self.sessions is not None
        http = self.sessions.migrations.http
        if http is None:
            return provider_for(self.sessions)
        status = self.platform.status()  # one read for the choice and the address
        running = _running(status, http.module)
        version = serving if serving in running else (running[-1] if running else serving)
        return provider_for(self.sessions, address=version_base_url(status, module=http.module, version=version))


def _running(status: PlatformStatus, module: str) -> list[str]:
    found = status.modules.get(module)
    return sorted(found.versions, key=version_key) if found else []


_cache: dict[Target, Connections] = {}
_lock = threading.Lock()


def connect(target: Target, *, app: Application | None = None) -> Connections:
    """Connections for ``target``; ``app`` replaces the cached descriptor (e.g. at live versions)."""
    with _lock:
        found = _cache.get(target)
        if found is None:
            found = _cache[target] = _open(target)
        if app is not None:
            found.app = app
        return found


def forget(target: Target) -> None:
    with _lock:
        _cache.pop(target, None)


def _open(target: Target) -> Connections:
    from prefect.blocks.core import Block

    import blocks  # noqa: F401  (registers the block classes so Block.load finds them)
    from blocks.catalog import ApplicationCatalog
    from blocks.metrics import PrometheusMetrics
    from blocks.session_store import RedisSessionStoreConfig

    app = ApplicationCatalog.load(target.catalog).load_application(target.application)
    platform = Block.load(target.platform).connect(app)
    if target.metrics:
        metrics = PrometheusMetrics.load(target.metrics).provider(application=app.name)
    else:
        metrics = PlatformStatsProvider(status=platform.status)
    store = None
    if app.sessions is not None and target.session_store:
        store = RedisSessionStoreConfig.load(target.session_store).connect()
    return Connections(app=app, platform=platform, metrics=metrics, store=store, sessions=app.sessions)
