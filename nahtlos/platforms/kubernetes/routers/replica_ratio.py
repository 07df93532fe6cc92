"""Fallback router for clusters without Gateway API or OpenShift: the split is the
ratio of ready replicas behind the module's shared Service.

The shared Service selects pods labelled ``nahtlos.io/traffic=on``. A version
with weight 0 keeps its replicas but its pods are labelled ``off`` (reachable
only through its own Service); a version with weight w gets
``max(1, round(replicas * w / 100))`` pods labelled ``on``. Changing the label
rolls the Deployment (``maxUnavailable: 0``, so capacity never drops). The split
is coarse: with 2 replicas a 10 % canary becomes 1 of 3 pods. The configured
weights are kept in an annotation of the shared Service; ``live`` counts the
ready endpoints per version in the Service's EndpointSlices, which is what
kube-proxy programs (per connection, not per request).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from nahtlos.platforms.kubernetes.objects import Cluster
from nahtlos.platforms.kubernetes.routers.base import Change, RouterContext, RouteState
from nahtlos.platforms.kubernetes.routers.openshift_route import to_percentages
from nahtlos.platforms.kubernetes.workloads import (
    TRAFFIC, VERSION, module_labels, module_service, selector, version_name,
)

WEIGHTS = "nahtlos.io/weights"


class ReplicaRatioRouter:
    kind: ClassVar[str] = "replica-ratio"

    def __init__(self, context: RouterContext) -> None:
        self.context = context
        self.cluster = Cluster(context.api, context.namespace)

    def read(self, *, module: str) -> RouteState | None:
        service = self.cluster.read_service(module)
        return None if service is None else _state_of(service)

    def update(self, *, module: str, change: Change) -> RouteState | None:
        app = self.context.app
        body = module_service(app=app, module=module, namespace=self.context.namespace,
                              port=self.context.port(module), selects={**module_labels(app, module), TRAFFIC: "on"})
        if self.cluster.read_service(module) is None:
            self.cluster.apply_service(body)
        result: list[RouteState] = []

        def apply(current: dict[str, Any]) -> dict[str, Any] | None:
            wanted = change(_state_of(current))
            if wanted is None:
                return None
            result[:] = [wanted]
            annotations = current["metadata"].setdefault("annotations", None) or {}
            annotations[WEIGHTS] = json.dumps(wanted.weights, sort_keys=True)
            current["metadata"]["annotations"] = annotations
            current["spec"]["selector"] = body["spec"]["selector"]
            return current

        self.cluster.update_service(module, apply)
        if not result:
            return None
        for version, weight in result[0].weights.items():
            self._scale(module, version, weight)
        return result[0]

    def _scale(self, module: str, version: str, weight: int) -> None:
        replicas = self.context.specs[module].replicas
        wanted_replicas = max(1, round(replicas * weight / 100)) if weight else replicas
        traffic = "on" if weight else "off"

        def change(deployment: dict[str, Any]) -> dict[str, Any] | None:
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            if deployment["spec"]["replicas"] == wanted_replicas and labels.get(TRAFFIC) == traffic:
                return None
            deployment["spec"]["replicas"] = wanted_replicas
            labels[TRAFFIC] = traffic
            return deployment

        self.cluster.update_deployment(version_name(module, version), change)

    def live(self, *, module: str, state: RouteState) -> dict[str, int] | None:
        pods = self.cluster.list_pods(selector(module_labels(self.context.app, module)))
        version_of_pod = {pod["metadata"]["name"]: pod["metadata"]["labels"].get(VERSION) for pod in pods}
        ready: dict[str, int] = {version: 0 for version in state.weights}
        for endpoint_slice in self.cluster.list_endpoint_slices(module):
            for endpoint in endpoint_slice.get("endpoints") or []:
                target = (endpoint.get("targetRef") or {}).get("name")
                version = version_of_pod.get(target)
                if version in ready and (endpoint.get("conditions") or {}).get("ready"):
                    ready[version] += 1
        if not any(ready.values()):
            return None
        return to_percentages(ready)

    def delete(self, *, module: str) -> None:
        self.cluster.delete_service(module)

    def pod_labels(self, *, module: str, version: str) -> dict[str, str]:
        # The first version of a module takes all traffic at once; later ones start dark.
        return {TRAFFIC: "on" if self.read(module=module) is None else "off"}


def _state_of(service: dict[str, Any]) -> RouteState:
    raw = ((service.get("metadata") or {}).get("annotations") or {}).get(WEIGHTS)
    weights = {str(k): int(v) for k, v in json.loads(raw).items()} if raw else {}
    return RouteState(weights=weights, pins={v: v for v in weights})
