"""The release flow on Kubernetes: real Prefect server, real control plane with KWOK pods, real
Prometheus scraping a simulated gateway that follows the HTTPRoutes (see simulated_gateway.py)."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.k8s.simulated_gateway import SimulatedGateway
from tests.k8s.snapshots import pods_by_version, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HERE = Path(__file__).parent
MODULES = ["front", "middle", "back"]
RELEASE_STATE = "nahtlos.io/release-state"


@dataclass
class KubeShop:
    params: dict
    platform: object
    gateway: SimulatedGateway


@pytest.fixture
def kube_shop(prefect_server, control_plane, admin_api, namespace, start_prometheus, tmp_path, request):
    from blocks import ApplicationCatalog, KubernetesPlatformConfig, PrometheusMetrics
    from nahtlos.loader import load_application
    from nahtlos.platforms.kubernetes import KubernetesPlatform

    catalog = tmp_path / "catalog"
    catalog.mkdir()
    shutil.copy(HERE / "k8sapp.yaml", catalog / "shop.yaml")
    app = load_application(catalog / "shop.yaml")
    platform = KubernetesPlatform(application=app, api_client=admin_api, namespace=namespace)
    for module in MODULES:
        platform.deploy(module=module, version="1.0.0")
    gateway = SimulatedGateway(admin_api, namespace=namespace, app=app.name, modules=MODULES,
                               error_rates=getattr(request, "param", {}))
    name = uuid.uuid4().hex[:8]
    with gateway.running() as exporter:
        prometheus = start_prometheus(targets=[exporter])
        ApplicationCatalog(directory=str(catalog)).save(name, overwrite=True)
        KubernetesPlatformConfig(namespace=namespace, kubeconfig=str(control_plane.kubeconfig)).save(
            name, overwrite=True)
        PrometheusMetrics(url=prometheus.url).save(name, overwrite=True)
        yield KubeShop(params=dict(catalog=name, platform=f"nahtlos-kubernetes-platform/{name}",
                                   session_store=None, metrics=name),
                       platform=platform, gateway=gateway)


def run_release(shop: KubeShop, targets: dict[str, str]):
    from flows.release import release

    return release(application="shop", targets=targets, **shop.params, return_state=True)


def without_release_state(objects: dict) -> dict:
    """The flow's own bookkeeping annotation changes on purpose; everything else must not."""
    cleaned = yaml.safe_load(yaml.safe_dump(objects))
    for obj in cleaned.values():
        obj["metadata"]["annotations"].pop(RELEASE_STATE, None)
    return cleaned


def test_a_release_on_kubernetes_moves_weights_on_the_httproutes_and_leaves_only_the_new_versions(
        kube_shop, admin_api, namespace):
    targets = {"front": "1.1.0", "middle": "1.1.0", "back": "1.1.0"}

    state = run_release(kube_shop, targets)

    assert state.name == "Promoted", state.message
    for module in MODULES:
        assert {"1.0.0": 80, "1.1.0": 20} in kube_shop.gateway.weights_seen[module]  # the canary step
        assert kube_shop.platform.traffic(module=module).configured == {"1.1.0": 100}
        assert pods_by_version(admin_api, namespace, module) == {"1.1.0": 2 if module != "back" else 1}
    assert set(snapshot(admin_api, namespace)) == {
        f"{kind}/{name}" for module in MODULES
        for kind, name in (("Deployment", f"{module}-1-1-0"), ("Service", f"{module}-1-1-0"),
                           ("Service", module), ("HTTPRoute", module))}
    assert kube_shop.platform.status().modules["middle"].release_state["phase"] == "promoted"


@pytest.mark.parametrize("kube_shop", [{("middle", "1.1.0"): 0.2}], indirect=True)
def test_a_failed_analysis_rolls_back_and_leaves_the_cluster_objects_as_before(kube_shop, admin_api, namespace):
    before = snapshot(admin_api, namespace)

    state = run_release(kube_shop, {"middle": "1.1.0"})

    assert state.name == "RolledBack", state.message
    assert "analysis failed" in state.message
    assert {"1.0.0": 80, "1.1.0": 20} in kube_shop.gateway.weights_seen["middle"]
    assert without_release_state(snapshot(admin_api, namespace)) == without_release_state(before)
    assert pods_by_version(admin_api, namespace, "middle") == {"1.0.0": 2}
