"""Shared machinery of the routers whose state is one custom object per module
(HTTPRoute, OpenShift Route): read-modify-write with conflict retries, and the
module's shared Service, which follows the majority version because a plain
Service cannot split traffic by weight."""

from __future__ import annotations

from typing import Any, ClassVar

from nahtlos.platforms.kubernetes.objects import Cluster
from nahtlos.platforms.kubernetes.routers.base import Change, RouterContext, RouteState, majority_version
from nahtlos.platforms.kubernetes.workloads import module_labels, module_service, version_labels


class CustomObjectRouter:
    kind: ClassVar[str]
    GROUP: ClassVar[str]
    VERSION: ClassVar[str]
    PLURAL: ClassVar[str]
    KIND: ClassVar[str]

    def __init__(self, context: RouterContext) -> None:
        self.context = context
        self.cluster = Cluster(context.api, context.namespace)

    # what subclasses define
    def state_of(self, route: dict[str, Any]) -> RouteState:
        raise NotImplementedError

    def spec(self, module: str, state: RouteState) -> dict[str, Any]:
        raise NotImplementedError

    # the protocol
    def read(self, *, module: str) -> RouteState | None:
        route = self.get(module)
        return None if route is None else self.state_of(route)

    def get(self, module: str) -> dict[str, Any] | None:
        return self.cluster.read_custom(self.KIND, self.GROUP, self.VERSION, self.PLURAL, module)

    def update(self, *, module: str, change: Change) -> RouteState | None:
        if self.get(module) is None:
            wanted = change(None)
            if wanted is None:
                return None
            self.ensure_shared_service(module, wanted)
            if self.cluster.create_custom(self.KIND, self.GROUP, self.VERSION, self.PLURAL,
                                          self.manifest(module, wanted)):
                return wanted
            # created concurrently by someone else: fall through and update it
        result: list[RouteState] = []

        def apply(current: dict[str, Any]) -> dict[str, Any] | None:
            wanted = change(self.state_of(current))
            if wanted is None:
                return None
            result[:] = [wanted]
            desired = self.spec(module, wanted)
            if current["spec"] == desired:
                return None
            current["spec"] = desired
            return current

        self.cluster.update_custom(self.KIND, self.GROUP, self.VERSION, self.PLURAL, module, apply)
        if not result:
            return None
        self.ensure_shared_service(module, result[0])
        return result[0]

    def delete(self, *, module: str) -> None:
        self.cluster.delete_custom(self.KIND, self.GROUP, self.VERSION, self.PLURAL, module)
        self.cluster.delete_service(module)

    def pod_labels(self, *, module: str, version: str) -> dict[str, str]:
        return {}

    def ensure_shared_service(self, module: str, state: RouteState) -> None:
        app = self.context.app
        self.cluster.apply_service(module_service(
            app=app, module=module, namespace=self.context.namespace, port=self.context.port(module),
            selects=version_labels(app, module, majority_version(state))))

    def manifest(self, module: str, state: RouteState) -> dict[str, Any]:
        return {"apiVersion": f"{self.GROUP}/{self.VERSION}", "kind": self.KIND,
                "metadata": {"name": module, "namespace": self.context.namespace,
                             "labels": module_labels(self.context.app, module)},
                "spec": self.spec(module, state)}


def version_of_backend(service_name: str) -> str:
    """Backend Services are named ``<module>-<x>-<y>-<z>``: the version is the last three parts."""
    return ".".join(service_name.rsplit("-", 3)[1:])
