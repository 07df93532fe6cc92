"""The platform contract fixture: one started Platform per backend, running tinyapp.

Each backend contributes a context-manager factory ``started(tmp_path_factory) -> Platform``
that starts the platform with ``tests/apps/tinyapp.yaml`` deployed (every module's
``deployed`` version at 100 %) and stops it afterwards. Adding a backend to the
contract suite is one line in ``BACKENDS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from nahtlos.descriptor import Application
from nahtlos.loader import load_application
from nahtlos.platforms.base import Platform

TINYAPP = Path(__file__).resolve().parents[1] / "apps" / "tinyapp.yaml"

BACKENDS = {
    "local": "tests.platforms.local.backend:started_local_platform",
    "kubernetes": "tests.k8s.backend:started_kubernetes_platform",
}


@pytest.fixture(scope="session")
def tinyapp() -> Application:
    return load_application(TINYAPP)


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def platform_backend(request, tinyapp, tmp_path_factory) -> Iterator[Platform]:
    """A started Platform running tinyapp's deployed versions (shared by one test module)."""
    module_name, _, factory = BACKENDS[request.param].partition(":")
    started = getattr(importlib.import_module(module_name), factory)
    with started(tinyapp, tmp_path_factory) as platform:
        yield platform


@pytest.fixture
def platform(platform_backend, tinyapp) -> Iterator[Platform]:
    """``platform_backend``, put back to the baseline after each test through the protocol itself:
    each module's deployed version at 100 %, nothing else running."""
    yield platform_backend
    for name, module in tinyapp.modules.items():
        platform_backend.set_weights(module=name, weights={module.deployed: 100})
        for version in platform_backend.status().modules[name].versions:
            if version != module.deployed:
                platform_backend.retire(module=name, version=version)
