"""The small protocol every Kubernetes traffic router implements.

A router owns the object that splits one module's traffic between versions
(an HTTPRoute, an OpenShift Route, or the replica counts behind a shared
Service) and the module's shared Service. The platform computes the desired
``RouteState``; the router stores it, reads it back from the cluster, and says
what the data plane really applies where it can tell (``live``), else None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from kubernetes import client

from nahtlos.platforms.base import Model
from nahtlos.platforms.kubernetes.spec import KubernetesRunSpec
from nahtlos.platforms.local.spec import RoutingSpec


class RouteState(Model):
    """Desired routing of one module: weights of every running version (sum 100)
    and where sessions pinned to a version now go (``pins[v] == v`` unless moved)."""

    weights: dict[str, int]
    pins: dict[str, str] = {}


@dataclass(frozen=True)
class RouterContext:
    api: client.ApiClient
    namespace: str
    app: str
    specs: dict[str, KubernetesRunSpec]  # module -> run.kubernetes
    routing: RoutingSpec

    def port(self, module: str) -> int:
        return self.specs[module].port


Change = Callable[[RouteState | None], RouteState | None]


class TrafficRouter(Protocol):
    kind: ClassVar[str]

    def read(self, *, module: str) -> RouteState | None:
        """The configured state, read from the cluster (None: nothing configured yet)."""

    def update(self, *, module: str, change: Change) -> RouteState | None:
        """Read, apply ``change`` (None = leave as is) and write back; conflicts are retried."""

    def live(self, *, module: str, state: RouteState) -> dict[str, int] | None:
        """The split the data plane reports applying, or None when the API cannot tell."""

    def delete(self, *, module: str) -> None:
        """Remove the routing objects of ``module`` (no-op when absent)."""

    def pod_labels(self, *, module: str, version: str) -> dict[str, str]:
        """Extra pod-template labels a new version starts with (before any weight)."""


def weight_pairs(state: RouteState) -> list[tuple[str, int]]:
    from nahtlos.versions import version_key

    return sorted(state.weights.items(), key=lambda item: version_key(item[0]))


def majority_version(state: RouteState) -> str:
    """The version with the largest weight (ties: the newest), for plain Service selection."""
    from nahtlos.versions import version_key

    return max(state.weights, key=lambda v: (state.weights[v], version_key(v)))
