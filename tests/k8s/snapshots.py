"""Comparable snapshots of everything nahtlos owns in a namespace, for "exactly as before" checks.

Server bookkeeping (uid, resourceVersion, generation, timestamps, managedFields,
status) is dropped; everything a user or controller acts on is kept.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

BOOKKEEPING = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
CUSTOM = (("gateway.networking.k8s.io", "v1", "httproutes"), ("route.openshift.io", "v1", "routes"))


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in BOOKKEEPING}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "deployment.kubernetes.io/revision"}
    meta["annotations"] = annotations
    return {"kind": obj.get("kind"), "metadata": meta, "spec": obj.get("spec")}


def snapshot(api: client.ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    plain = api.sanitize_for_serialization
    selector = "app.kubernetes.io/managed-by=nahtlos"
    found: dict[str, dict[str, Any]] = {}
    for item in client.AppsV1Api(api).list_namespaced_deployment(namespace, label_selector=selector).items:
        found[f"Deployment/{item.metadata.name}"] = _clean({**plain(item), "kind": "Deployment"})
    for item in client.CoreV1Api(api).list_namespaced_service(namespace, label_selector=selector).items:
        service = {**plain(item), "kind": "Service"}
        found[f"Service/{item.metadata.name}"] = _clean(service)
    custom = client.CustomObjectsApi(api)
    for group, version, plural in CUSTOM:
        for item in custom.list_namespaced_custom_object(group, version, namespace, plural,
                                                         label_selector=selector)["items"]:
            found[f"{item['kind']}/{item['metadata']['name']}"] = _clean(item)
    return found


def pods_by_version(api: client.ApiClient, namespace: str, module: str) -> dict[str, int]:
    """Running and Ready pods per version of ``module`` (not terminating)."""
    counts: dict[str, int] = {}
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/name={module}")
    for pod in pods.items:
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if pod.status.phase == "Running" and ready and not pod.metadata.deletion_timestamp:
            version = pod.metadata.labels["app.kubernetes.io/version"]
            counts[version] = counts.get(version, 0) + 1
    return counts
