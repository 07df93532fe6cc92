"""Fixtures for tests against a real Kubernetes control plane (see testenv.py).

Without Go or without the built binaries every test here is skipped, saying how to
enable it. One control plane serves the whole session; each test gets its own
namespace, deleted afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.testenv import ENABLE_HINT, ControlPlane, find_binaries, start


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.k8s)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    bin_dir = find_binaries()
    if bin_dir is None:
        reason = "Go is not installed" if shutil.which("go") is None else "the binaries are not built"
        pytest.skip(f"Kubernetes tests skipped: {reason}; {ENABLE_HINT}")
    work_dir = Path(tempfile.mkdtemp(prefix="nahtlos-k8s-"))
    plane = start(bin_dir, work_dir)
    try:
        yield plane
    finally:
        plane.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def admin_api(control_plane: ControlPlane):
    from tests.k8s.bootstrap import api_client

    with api_client(control_plane.kubeconfig) as api:
        yield api


@pytest.fixture
def namespace(admin_api) -> Iterator[str]:
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(admin_api)
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        core.delete_namespace(name)


K8S_APP = Path(__file__).with_name("k8sapp.yaml")


@pytest.fixture(scope="session")
def shop_app():
    from nahtlos.loader import load_application

    return load_application(K8S_APP)


@pytest.fixture
def make_platform(admin_api, namespace, shop_app):
    """``make_platform(router="openshift-route", app=..., api=...)`` -> a platform in the test's namespace."""
    from nahtlos.platforms.kubernetes import KubernetesPlatform

    def make(*, router: str = "gateway-api", app=None, api=None, **options):
        return KubernetesPlatform(application=app or shop_app, api_client=api or admin_api, namespace=namespace,
                                  router=router, router_options=options or None)

    return make
