"""A small typed facade over the Kubernetes client for the objects nahtlos touches.

Objects travel as plain dicts (what the API returns, JSON-shaped). Every call goes
through ``api_errors.call`` so transient failures are retried and every failure
names the object. Absent objects read as None and delete is a no-op for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from nahtlos.errors import Conflict, UnknownObject
from nahtlos.platforms.kubernetes.api_errors import call, update_with_retry

REQUEST_TIMEOUT = 30  # seconds per API request
Change = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class Cluster:
    """One namespace of one cluster, as nahtlos sees it."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.discovery = client.DiscoveryV1Api(api)

    def subject(self, kind: str, name: str) -> str:
        return f"{kind} {self.namespace}/{name}"

    def _plain(self, obj: Any) -> dict[str, Any]:
        return obj if isinstance(obj, dict) else self.api.sanitize_for_serialization(obj)

    def _read(self, kind: str, name: str, fn: Callable[..., Any], *args: Any) -> dict[str, Any] | None:
        try:
            return self._plain(call(fn, *args, self.namespace, subject=self.subject(kind, name),
                                    action=f"read {kind}", _request_timeout=REQUEST_TIMEOUT))
        except UnknownObject:
            return None

    def _delete(self, kind: str, name: str, fn: Callable[..., Any], *args: Any, **options: Any) -> None:
        try:
            call(fn, *args, self.namespace, subject=self.subject(kind, name), action=f"delete {kind}",
                 _request_timeout=REQUEST_TIMEOUT, **options)
        except UnknownObject:
            pass

    def _update(self, kind: str, name: str, change: Change, read: Callable[..., Any],
                replace: Callable[..., Any]) -> None:
        """Optimistic read-modify-write of a typed object (its resourceVersion makes races fail with 409)."""
        update_with_retry(
            read=lambda: self._plain(read(name, self.namespace, _request_timeout=REQUEST_TIMEOUT)),
            change=change,
            write=lambda body: replace(name, self.namespace, body, _request_timeout=REQUEST_TIMEOUT),
            subject=self.subject(kind, name), action=f"update {kind}")

    def _create(self, kind: str, body: dict[str, Any], fn: Callable[..., Any], *args: Any) -> bool:
        """Create ``body``; False when it already exists (creating is then a no-op)."""
        try:
            call(fn, *args, self.namespace, body, subject=self.subject(kind, body["metadata"]["name"]),
                 action=f"create {kind}", _request_timeout=REQUEST_TIMEOUT)
            return True
        except Conflict as exc:
            if isinstance(exc.__cause__, ApiException) and "already exists" in str(exc.__cause__.body or ""):
                return False
            raise

    # Deployments
    def read_deployment(self, name: str) -> dict[str, Any] | None:
        return self._read("Deployment", name, self.apps.read_namespaced_deployment, name)

    def create_deployment(self, body: dict[str, Any]) -> bool:
        return self._create("Deployment", body, self.apps.create_namespaced_deployment)

    def list_deployments(self, label_selector: str) -> list[dict[str, Any]]:
        found = call(self.apps.list_namespaced_deployment, self.namespace, label_selector=label_selector,
                     subject=f"Deployments in {self.namespace}", action="list Deployments",
                     _request_timeout=REQUEST_TIMEOUT)
        return [self._plain(item) for item in found.items]

    def update_deployment(self, name: str, change: Change) -> None:
        self._update("Deployment", name, change, self.apps.read_namespaced_deployment,
                     self.apps.replace_namespaced_deployment)

    def delete_deployment(self, name: str) -> None:
        # Foreground: the Deployment stays until its ReplicaSets and Pods are gone, so waiting for it means
        # waiting for the graceful shutdown of every pod.
        self._delete("Deployment", name, self.apps.delete_namespaced_deployment, name,
                     propagation_policy="Foreground")

    # Services
    def read_service(self, name: str) -> dict[str, Any] | None:
        return self._read("Service", name, self.core.read_namespaced_service, name)

    def apply_service(self, body: dict[str, Any]) -> None:
        """Create the Service, or bring labels, selector and ports of an existing one to ``body``."""
        if self._create("Service", body, self.core.create_namespaced_service):
            return
        name = body["metadata"]["name"]

        def change(current: dict[str, Any]) -> dict[str, Any] | None:
            meta, spec = current["metadata"], current["spec"]
            wanted_labels = {**(meta.get("labels") or {}), **body["metadata"]["labels"]}
            if (spec.get("selector") == body["spec"]["selector"] and meta.get("labels") == wanted_labels
                    and [(p["port"], p.get("targetPort")) for p in spec["ports"]]
                    == [(p["port"], p["targetPort"]) for p in body["spec"]["ports"]]):
                return None
            meta["labels"] = wanted_labels
            spec["selector"] = body["spec"]["selector"]
            spec["ports"] = body["spec"]["ports"]
            return current

        self.update_service(name, change)

    def update_service(self, name: str, change: Change) -> None:
        self._update("Service", name, change, self.core.read_namespaced_service, self.core.replace_namespaced_service)

    def delete_service(self, name: str) -> None:
        self._delete("Service", name, self.core.delete_namespaced_service, name)

    # Pods and endpoints (read only)
    def list_pods(self, label_selector: str) -> list[dict[str, Any]]:
        found = call(self.core.list_namespaced_pod, self.namespace, label_selector=label_selector,
                     subject=f"Pods in {self.namespace}", action="list Pods", _request_timeout=REQUEST_TIMEOUT)
        return [self._plain(item) for item in found.items]

    def list_endpoint_slices(self, service: str) -> list[dict[str, Any]]:
        found = call(self.discovery.list_namespaced_endpoint_slice, self.namespace,
                     label_selector=f"kubernetes.io/service-name={service}",
                     subject=self.subject("Service", service), action="list EndpointSlices",
                     _request_timeout=REQUEST_TIMEOUT)
        return [self._plain(item) for item in found.items]

    # Custom objects (HTTPRoute, OpenShift Route)
    def read_custom(self, kind: str, group: str, version: str, plural: str, name: str) -> dict[str, Any] | None:
        return self._read(kind, name, self._get_custom, group, version, plural, name)

    def _get_custom(self, group: str, version: str, plural: str, name: str, namespace: str,
                    **kwargs: Any) -> Any:
        return self.custom.get_namespaced_custom_object(group, version, namespace, plural, name, **kwargs)

    def create_custom(self, kind: str, group: str, version: str, plural: str, body: dict[str, Any]) -> bool:
        def create(namespace: str, obj: dict[str, Any], **kwargs: Any) -> Any:
            return self.custom.create_namespaced_custom_object(group, version, namespace, plural, obj, **kwargs)

        return self._create(kind, body, create)

    def update_custom(self, kind: str, group: str, version: str, plural: str, name: str,
                      change: Change) -> dict[str, Any] | None:
        return update_with_retry(
            read=lambda: self.custom.get_namespaced_custom_object(group, version, self.namespace, plural, name,
                                                                  _request_timeout=REQUEST_TIMEOUT),
            change=change,
            write=lambda body: self.custom.replace_namespaced_custom_object(
                group, version, self.namespace, plural, name, body, _request_timeout=REQUEST_TIMEOUT),
            subject=self.subject(kind, name), action=f"update {kind}")

    def delete_custom(self, kind: str, group: str, version: str, plural: str, name: str) -> None:
        def delete(namespace: str, **kwargs: Any) -> Any:
            return self.custom.delete_namespaced_custom_object(group, version, namespace, plural, name, **kwargs)

        self._delete(kind, name, delete)
