"""Manifests of the objects nahtlos owns for one module: a Deployment and a Service
per version, and one shared Service per module.

Pure functions from the descriptor to plain dicts, so the exact shape (graceful
settings, labels, names) is testable without a cluster. Every workload gets:
a readiness probe from the descriptor, a ``preStop`` sleep so endpoints and
routers stop sending before SIGTERM, ``terminationGracePeriodSeconds`` longer
than preStop plus the drain time, and ``maxUnavailable: 0``.
"""

from __future__ import annotations

import re
from typing import Any

from nahtlos.errors import InvalidInput
from nahtlos.platforms.kubernetes.spec import KubernetesRunSpec, expand
from nahtlos.platforms.local.spec import service_env_name
from nahtlos.versions import slug

PART_OF = "app.kubernetes.io/part-of"
NAME = "app.kubernetes.io/name"
VERSION = "app.kubernetes.io/version"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "nahtlos"
TRAFFIC = "nahtlos.io/traffic"  # "on"/"off": only used by the replica-ratio router's shared Service
RELEASE_STATE = "nahtlos.io/release-state"
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def version_name(module: str, version: str) -> str:
    """``forms`` + ``2.0.0`` -> ``forms-2-0-0``: Deployment and per-version Service name."""
    name = f"{module}-{slug(version)}"
    if not _DNS_1035.match(name):
        raise InvalidInput(f"{name!r} is not a valid Kubernetes Service name (at most 63 characters, starting "
                           "with a letter)", subject=f"module {module}", hint="shorten the module name")
    return name


def module_labels(app: str, module: str) -> dict[str, str]:
    return {PART_OF: app, NAME: module, MANAGED_BY: MANAGER}


def version_labels(app: str, module: str, version: str) -> dict[str, str]:
    return {**module_labels(app, module), VERSION: version}


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def service_url(module: str, namespace: str, port: int) -> str:
    return f"http://{module}.{namespace}.svc.cluster.local:{port}"


def deployment(*, app: str, module: str, version: str, namespace: str, spec: KubernetesRunSpec,
               ports: dict[str, int], pod_labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """The Deployment running ``version``; ``ports`` maps every module to its Service port."""
    labels = version_labels(app, module, version)
    pod_labels = {**labels, **(pod_labels or {})}
    urls = {m: service_url(m, namespace, port) for m, port in ports.items()}
    values = {"version": version, "module": module, "app": app}
    env = {"PORT": str(spec.port), "NAHTLOS_APP": app, "NAHTLOS_MODULE": module, "NAHTLOS_VERSION": version}
    env.update({service_env_name(m): url for m, url in urls.items()})
    env.update({name: expand(text, values=values, service_urls=urls) for name, text in spec.env.items()})
    resources = {key: value for key, value in spec.resources.model_dump().items() if value}
    container = {
        "name": module,
        "image": expand(spec.image, values=values, service_urls=urls),
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": [{"name": name, "value": value} for name, value in sorted(env.items())],
        "readinessProbe": {"httpGet": {"path": spec.ready, "port": spec.port},
                           "periodSeconds": 2, "failureThreshold": 2, "successThreshold": 1},
        # sleep action (no shell needed in the image): routers and endpoints stop sending first
        "lifecycle": {"preStop": {"sleep": {"seconds": spec.pre_stop_seconds}}} if spec.pre_stop_seconds else {},
        **({"resources": resources} if resources else {}),
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": version_name(module, version), "namespace": namespace, "labels": labels,
                     "annotations": dict(annotations or {})},
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [container],
                         "terminationGracePeriodSeconds": spec.termination_grace_seconds},
            },
        },
    }


def service(*, name: str, namespace: str, labels: dict[str, str], selects: dict[str, str],
            port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"type": "ClusterIP", "selector": selects,
                 "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}]},
    }


def version_service(*, app: str, module: str, version: str, namespace: str, port: int) -> dict[str, Any]:
    """Addresses exactly one version: router backends and direct smoke checks use it."""
    labels = version_labels(app, module, version)
    return service(name=version_name(module, version), namespace=namespace, labels=labels, selects=labels,
                   port=port)


def module_service(*, app: str, module: str, namespace: str, port: int, selects: dict[str, str]) -> dict[str, Any]:
    """The module's stable address; which pods it selects is the router's business."""
    return service(name=module, namespace=namespace, labels=module_labels(app, module), selects=selects, port=port)
