"""The Platform protocol: what the release flow needs from a place that runs modules.

Backends (``local``, ``kubernetes``) implement these keyword-only verbs. Every
verb is idempotent: calling it twice is safe, and the platform's own state is
the truth a re-run reconciles against. Weights are whole percentages per
version of one module, summing to 100.

A backend that cannot verify what its data plane applied reports the live
split as unknown (``TrafficSplit.live is None``), never as "yes".
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrafficSplit(Model):
    module: str
    configured: dict[str, int]  # version -> percent, what we asked for
    live: dict[str, int] | None  # what the data plane applies; None = cannot verify

    @property
    def verified(self) -> bool:
        return self.live is not None and self.live == self.configured


class RequestStats(Model):
    """Per-version request statistics since the version started (counters only grow)."""

    requests: int = 0
    status_2xx: int = 0
    status_3xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    connection_errors: int = 0
    # Cumulative latency histogram: upper bound in seconds -> count of requests at or below it.
    latency_buckets: dict[float, int] = Field(default_factory=dict)
    latency_sum_seconds: float = 0.0


class VersionStatus(Model):
    module: str
    version: str
    ready: bool
    state: str  # "starting" | "ready" | "draining" | "crashed" | "stopped"
    weight: int = 0
    # None: the backend cannot see it (Kubernetes: requests in flight inside pods, pins held by clients)
    in_flight: int | None = 0
    pinned_sessions: int | None = 0
    address: str | None = None  # direct address of this version, bypassing weights
    message: str | None = None  # why it is not ready (never session data)
    stats: RequestStats = Field(default_factory=RequestStats)


class ModuleStatus(Model):
    module: str
    service_address: str | None  # stable address that follows the weights
    versions: dict[str, VersionStatus]
    split: TrafficSplit
    release_state: dict[str, Any] = Field(default_factory=dict)


class PlatformStatus(Model):
    application: str
    entry_address: str | None
    modules: dict[str, ModuleStatus]


class DrainReport(Model):
    module: str
    version: str
    drained: bool  # True when no in-flight requests and no pinned sessions remain (or, unseen, the window passed)
    in_flight: int | None  # None: the backend cannot see it, as in VersionStatus
    pinned_sessions: int | None
    moved_sessions: int = 0
    waited_seconds: float = 0.0


@runtime_checkable
class Platform(Protocol):
    """What the release flow drives. All verbs are keyword-only and idempotent."""

    def deploy(self, *, module: str, version: str, timeout: float = 120.0) -> VersionStatus:
        """Start ``version`` of ``module`` next to what runs, with weight 0; wait until ready."""

    def set_weights(self, *, module: str, weights: dict[str, int]) -> TrafficSplit:
        """Set the split between running versions (percentages summing to 100)."""

    def traffic(self, *, module: str) -> TrafficSplit:
        """Read back the configured and the live split."""

    def drain(self, *, module: str, version: str, deadline: float, move_to: str | None = None) -> DrainReport:
        """Stop new sessions on ``version``; wait up to ``deadline`` s for in-flight
        requests and pinned sessions to finish; then move remaining pins to ``move_to``."""

    def move_sessions(self, *, module: str, from_version: str, to_version: str) -> int:
        """Re-pin every session pinned to ``from_version`` to ``to_version``; return how many."""

    def retire(self, *, module: str, version: str) -> None:
        """Stop ``version`` (graceful) and forget it. Refuses while it carries weight."""

    def status(self) -> PlatformStatus:
        """Versions, weights, readiness, in-flight counts and per-version statistics."""

    def set_release_state(self, *, module: str, state: dict[str, Any]) -> None:
        """Record release bookkeeping next to the workload, so a re-run reconciles."""
