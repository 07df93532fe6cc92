"""Waiting for a Deployment: rolled out and ready, or gone.

Uses watches (one request per change instead of polling) and falls back to a
fresh read when a watch ends or its resourceVersion expired (410).
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import watch
from kubernetes.client.rest import ApiException

from nahtlos.errors import DeployFailed
from nahtlos.platforms.kubernetes.api_errors import map_api_error
from nahtlos.platforms.kubernetes.objects import Cluster
from nahtlos.platforms.kubernetes.workloads import selector

WATCH_SLICE_SECONDS = 10


def is_rolled_out(deployment: dict[str, Any]) -> bool:
    """All wanted replicas are updated, available and ready, and no old ones remain."""
    wanted = deployment["spec"].get("replicas", 1)
    status = deployment.get("status") or {}
    return (status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 1)
            and status.get("updatedReplicas", 0) == wanted and status.get("replicas", 0) == wanted
            and status.get("availableReplicas", 0) >= wanted and status.get("readyReplicas", 0) >= wanted)


def failure_of(deployment: dict[str, Any]) -> str | None:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return condition.get("message") or "progress deadline exceeded"
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            return condition.get("message") or "replica failure"
    return None


def _watch_once(cluster: Cluster, name: str, resource_version: str | None, seconds: float) -> None:
    """Block until the Deployment changes (or ``seconds`` pass)."""
    stream = watch.Watch()
    try:
        for _ in stream.stream(cluster.apps.list_namespaced_deployment, cluster.namespace,
                               field_selector=f"metadata.name={name}", resource_version=resource_version,
                               timeout_seconds=max(1, int(seconds)), _request_timeout=seconds + 5):
            return
    except ApiException as exc:
        if exc.status != 410:  # expired resourceVersion: the caller simply reads again
            raise map_api_error(exc, subject=cluster.subject("Deployment", name), action="watch Deployment") from exc
    finally:
        stream.stop()


def wait_rolled_out(cluster: Cluster, name: str, *, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    subject = cluster.subject("Deployment", name)
    while True:
        deployment = cluster.read_deployment(name)
        if deployment is None:
            raise DeployFailed("the Deployment disappeared while waiting for it", subject=subject,
                               hint="something else deleted it; rerun the deploy step")
        if is_rolled_out(deployment):
            return deployment
        failure = failure_of(deployment)
        remaining = deadline - time.monotonic()
        if failure or remaining <= 0:
            raise DeployFailed(_not_ready_message(cluster, deployment, failure, timeout), subject=subject,
                               hint="look at the Deployment's events and the pods' logs; the version keeps weight 0")
        _watch_once(cluster, name, deployment["metadata"].get("resourceVersion"),
                    min(remaining, WATCH_SLICE_SECONDS))


def _not_ready_message(cluster: Cluster, deployment: dict[str, Any], failure: str | None, timeout: float) -> str:
    status = deployment.get("status") or {}
    text = (f"{status.get('readyReplicas', 0)} of {deployment['spec'].get('replicas', 1)} replicas ready"
            + (f": {failure}" if failure else f" after {timeout:.0f} s"))
    labels = deployment["spec"]["selector"]["matchLabels"]
    for pod in cluster.list_pods(selector(labels))[:1]:
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if condition.get("status") != "True" and condition.get("message"):
                text += f"; pod {pod['metadata']['name']}: {condition['message'][:200]}"
                break
    return text


def wait_gone(cluster: Cluster, name: str, *, timeout: float) -> bool:
    """Wait until the Deployment (deleted with foreground propagation, so pods first) is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment = cluster.read_deployment(name)
        if deployment is None:
            return True
        _watch_once(cluster, name, deployment["metadata"].get("resourceVersion"),
                    min(deadline - time.monotonic(), WATCH_SLICE_SECONDS))
    return cluster.read_deployment(name) is None
