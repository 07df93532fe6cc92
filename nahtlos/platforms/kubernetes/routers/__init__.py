"""Traffic routers of the Kubernetes platform, by registry name."""

from __future__ import annotations

from typing import Any

from nahtlos.errors import InvalidInput
from nahtlos.platforms.kubernetes.routers.base import RouterContext, RouteState, TrafficRouter
from nahtlos.platforms.kubernetes.routers.gateway_api import GatewayApiRouter
from nahtlos.platforms.kubernetes.routers.openshift_route import OpenShiftRouteRouter
from nahtlos.platforms.kubernetes.routers.replica_ratio import ReplicaRatioRouter

ROUTERS: dict[str, type] = {cls.kind: cls for cls in (GatewayApiRouter, OpenShiftRouteRouter, ReplicaRatioRouter)}
ROUTERS["replicas"] = ReplicaRatioRouter  # short alias


def build_router(name: str, context: RouterContext, **options: Any) -> TrafficRouter:
    """``build_router("gateway-api", context, gateway={"name": "public", "namespace": "infra"})``."""
    if name not in ROUTERS:
        raise InvalidInput(f"unknown router {name!r}; choose one of: {', '.join(sorted(ROUTERS))}",
                           subject="kubernetes platform")
    try:
        return ROUTERS[name](context, **options)
    except TypeError as exc:
        raise InvalidInput(f"invalid options for router {name!r}: {exc}", subject="kubernetes platform") from None


__all__ = ["ROUTERS", "RouteState", "RouterContext", "TrafficRouter", "build_router"]
