"""OpenShift router: one ``route.openshift.io/v1`` Route per module.

The version with the largest weight is ``spec.to``, the others are
``alternateBackends`` (OpenShift allows at most three). Route weights are
relative integers 0..256, so percentages are scaled to 256 and read back with a
largest-remainder rounding; a 10 % canary is stored as 26/256 and reads back
as 10 %. Stickiness is the OpenShift router's own: HAProxy keeps a client on
the backend that served it through its route cookie, so pins cannot be moved
by nahtlos. A Route's status only says it was admitted, never which weights
HAProxy loaded, so ``live`` is always None ("unknown").
"""

from __future__ import annotations

from typing import Any, ClassVar

from nahtlos.errors import InvalidInput
from nahtlos.platforms.kubernetes.routers.base import RouterContext, RouteState, majority_version, weight_pairs
from nahtlos.platforms.kubernetes.routers.custom_object import CustomObjectRouter, version_of_backend
from nahtlos.platforms.kubernetes.workloads import version_name

SCALE = 256
MAX_BACKENDS = 4


def to_route_weights(percentages: dict[str, int]) -> dict[str, int]:
    return {version: round(pct * SCALE / 100) for version, pct in percentages.items()}


def to_percentages(weights: dict[str, int]) -> dict[str, int]:
    """Relative Route weights -> whole percentages summing to 100 (largest remainder)."""
    total = sum(weights.values())
    if total == 0:
        return {version: 0 for version in weights}
    exact = {version: w * 100 / total for version, w in weights.items()}
    result = {version: int(value) for version, value in exact.items()}
    by_remainder = sorted(exact, key=lambda v: (exact[v] - result[v], v), reverse=True)
    for version in by_remainder[: 100 - sum(result.values())]:
        result[version] += 1
    return result


class OpenShiftRouteRouter(CustomObjectRouter):
    kind: ClassVar[str] = "openshift-route"
    GROUP, VERSION, PLURAL, KIND = "route.openshift.io", "v1", "routes", "Route"

    def __init__(self, context: RouterContext, *, domain: str = "apps.cluster.local") -> None:
        super().__init__(context)
        self.domain = domain

    def state_of(self, route: dict[str, Any]) -> RouteState:
        spec = route["spec"]
        raw = {version_of_backend(ref["name"]): int(ref.get("weight", 1))
               for ref in [spec["to"], *spec.get("alternateBackends", [])]}
        weights = to_percentages(raw)
        return RouteState(weights=weights, pins={v: v for v in weights})

    def live(self, *, module: str, state: RouteState) -> dict[str, int] | None:
        return None

    def spec(self, module: str, state: RouteState) -> dict[str, Any]:
        if len(state.weights) > MAX_BACKENDS:
            raise InvalidInput(f"an OpenShift Route takes at most {MAX_BACKENDS} backends, but "
                               f"{len(state.weights)} versions run", subject=f"Route {module}",
                               hint="retire a version before deploying another")
        scaled = to_route_weights(state.weights)
        first = majority_version(state)

        def target(version: str) -> dict[str, Any]:
            return {"kind": "Service", "name": version_name(module, version), "weight": scaled[version]}

        spec: dict[str, Any] = {"host": f"{module}-{self.context.namespace}.{self.domain}", "to": target(first),
                                "port": {"targetPort": self.context.port(module)}}
        rest = [v for v, _ in weight_pairs(state) if v != first]
        if rest:
            spec["alternateBackends"] = [target(v) for v in rest]
        return spec
