"""The shipped least-privilege Role is enough for the platform, and nothing more: a token of the
worker's ServiceAccount (from the TokenRequest API) drives a whole release in its namespace and
is refused in any other. The worker manifest is accepted by the API server as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client, utils

from nahtlos.errors import AccessDenied
from tests.k8s.testenv import ControlPlane

MANIFESTS = Path(__file__).resolve().parents[2] / "deployments" / "kubernetes"


def manifests(name: str, namespace: str) -> list[dict]:
    documents = [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = namespace
        for subject in document.get("subjects", []):
            subject["namespace"] = namespace
    return documents


def service_account_client(admin_api, control_plane: ControlPlane, namespace: str) -> client.ApiClient:
    for document in manifests("rbac.yaml", namespace):
        utils.create_from_dict(admin_api, document, namespace=namespace)
    token = client.CoreV1Api(admin_api).create_namespaced_service_account_token(
        "nahtlos-worker", namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    configuration = client.Configuration()
    configuration.host = control_plane.server
    configuration.ssl_ca_cert = str(control_plane.work_dir / "pki" / "ca.crt")
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(configuration)


def test_the_worker_role_is_enough_for_a_whole_release(admin_api, control_plane, namespace, shop_app):
    from nahtlos.platforms.kubernetes import KubernetesPlatform

    with service_account_client(admin_api, control_plane, namespace) as worker_api:
        platform = KubernetesPlatform(application=shop_app, api_client=worker_api, namespace=namespace)
        platform.deploy(module="front", version="1.0.0")
        platform.deploy(module="front", version="1.1.0")
        platform.set_weights(module="front", weights={"1.0.0": 80, "1.1.0": 20})
        platform.set_release_state(module="front", state={"phase": "canary"})
        platform.move_sessions(module="front", from_version="1.0.0", to_version="1.1.0")
        platform.set_weights(module="front", weights={"1.1.0": 100})
        platform.drain(module="front", version="1.0.0", deadline=30)
        platform.retire(module="front", version="1.0.0")

        assert list(platform.status().modules["front"].versions) == ["1.1.0"]
        openshift = KubernetesPlatform(application=shop_app, api_client=worker_api, namespace=namespace,
                                       router="openshift-route")
        openshift.deploy(module="back", version="1.0.0")
        replicas = KubernetesPlatform(application=shop_app, api_client=worker_api, namespace=namespace,
                                      router="replica-ratio")
        replicas.deploy(module="middle", version="1.0.0")
        assert replicas.traffic(module="middle").configured == {"1.0.0": 100}


def test_the_worker_is_refused_outside_its_namespace(admin_api, control_plane, namespace, shop_app):
    from nahtlos.platforms.kubernetes import KubernetesPlatform

    other = f"{namespace}-other"
    client.CoreV1Api(admin_api).create_namespace({"metadata": {"name": other}})
    try:
        with service_account_client(admin_api, control_plane, namespace) as worker_api:
            platform = KubernetesPlatform(application=shop_app, api_client=worker_api, namespace=other)
            with pytest.raises(AccessDenied) as denied:
                platform.deploy(module="back", version="1.0.0")
    finally:
        client.CoreV1Api(admin_api).delete_namespace(other)

    assert denied.value.subject == f"Service {other}/back-1-0-0"
    assert "forbidden" in str(denied.value) and "rbac.yaml" in str(denied.value)
    assert not denied.value.transient


def test_the_worker_manifest_is_accepted_and_runs_with_the_service_account(admin_api, namespace):
    for document in manifests("rbac.yaml", namespace) + manifests("worker.yaml", namespace):
        utils.create_from_dict(admin_api, document, namespace=namespace)

    deployment = client.AppsV1Api(admin_api).read_namespaced_deployment("nahtlos-worker", namespace)

    assert deployment.spec.template.spec.service_account_name == "nahtlos-worker"
    assert deployment.spec.replicas == 1
