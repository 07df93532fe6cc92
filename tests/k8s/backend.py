"""The Kubernetes backend for the platform contract suite (see tests/platforms/conftest.py):
its own loopback control plane, one namespace, the application's deployed versions at 100 %."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from nahtlos.descriptor import Application
from tests.k8s.testenv import ENABLE_HINT, find_binaries, start


@contextmanager
def started_kubernetes_platform(app: Application, tmp_path_factory) -> Iterator[object]:
    bin_dir = find_binaries()
    if bin_dir is None:
        pytest.skip(f"Kubernetes backend skipped: no control-plane binaries; {ENABLE_HINT}")
    from kubernetes import client

    from nahtlos.platforms.kubernetes import KubernetesPlatform
    from tests.k8s.bootstrap import api_client

    plane = start(bin_dir, tmp_path_factory.mktemp("k8s-plane"))
    try:
        with api_client(plane.kubeconfig) as api:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": app.name}})
            platform = KubernetesPlatform(application=app, api_client=api, namespace=app.name)
            for name, module in app.modules.items():
                platform.deploy(module=name, version=module.deployed)
            yield platform
    finally:
        plane.stop()
