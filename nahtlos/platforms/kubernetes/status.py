"""Status models of the Kubernetes platform, built from Deployments and the router's split.

Request statistics, in-flight counts and session pins are not visible through the
Kubernetes API: they stay at zero here, and metrics come from the metric provider
(Prometheus), sessions from the session store.
"""

from __future__ import annotations

import json
from typing import Any

from nahtlos.platforms.base import ModuleStatus, TrafficSplit, VersionStatus
from nahtlos.platforms.kubernetes.rollout import failure_of, is_rolled_out
from nahtlos.platforms.kubernetes.workloads import RELEASE_STATE, service_url, version_name
from nahtlos.versions import version_key


def _state(deployment: dict[str, Any], draining_annotation: str) -> tuple[str, str | None]:
    if deployment["metadata"].get("deletionTimestamp"):
        return "stopped", "being deleted"
    failure = failure_of(deployment)
    if failure:
        return "crashed", failure[:200]
    if (deployment["metadata"].get("annotations") or {}).get(draining_annotation) == "true":
        return "draining", None
    if is_rolled_out(deployment):
        return "ready", None
    status = deployment.get("status") or {}
    return "starting", f"{status.get('readyReplicas', 0)} of {deployment['spec'].get('replicas', 1)} replicas ready"


def version_status(module: str, version: str, deployment: dict[str, Any], *, weight: int, namespace: str, port: int,
                   draining_annotation: str = "nahtlos.io/draining") -> VersionStatus:
    state, message = _state(deployment, draining_annotation)
    return VersionStatus(module=module, version=version, ready=is_rolled_out(deployment), state=state, weight=weight,
                         in_flight=None, pinned_sessions=None,  # inside pods and clients: not in the API
                         address=service_url(version_name(module, version), namespace, port), message=message)


def module_status(module: str, deployments: dict[str, dict[str, Any]], split: TrafficSplit, *, namespace: str,
                  port: int, draining_annotation: str) -> ModuleStatus:
    versions = {
        version: version_status(module, version, deployment, weight=split.configured.get(version, 0),
                                namespace=namespace, port=port, draining_annotation=draining_annotation)
        for version, deployment in sorted(deployments.items(), key=lambda item: version_key(item[0]))
    }
    release_state: dict[str, Any] = {}
    for deployment in deployments.values():
        raw = (deployment["metadata"].get("annotations") or {}).get(RELEASE_STATE)
        if raw:
            release_state = json.loads(raw)
            break
    return ModuleStatus(module=module, service_address=service_url(module, namespace, port) if deployments else None,
                        versions=versions, split=split, release_state=release_state)
