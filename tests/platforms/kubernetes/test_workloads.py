"""The manifests and the run.kubernetes model, without a cluster."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nahtlos.errors import InvalidInput
from nahtlos.platforms.kubernetes.routers.openshift_route import to_percentages, to_route_weights
from nahtlos.platforms.kubernetes.spec import KubernetesRunSpec
from nahtlos.platforms.kubernetes.workloads import deployment, version_name


def test_graceful_settings_cover_prestop_plus_drain():
    spec = KubernetesRunSpec(image="r/x:{version}", port=8080, pre_stop_seconds=7, drain_seconds=30)

    manifest = deployment(app="shop", module="front", version="2.0.0", namespace="ns", spec=spec,
                          ports={"front": 8080})

    pod = manifest["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > 7 + 30
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 7}}}
    assert manifest["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert manifest["metadata"]["name"] == "front-2-0-0"
    assert pod["containers"][0]["image"] == "r/x:2.0.0"


@pytest.mark.parametrize("bad", [
    {"image": "r/x:{tag}", "port": 80},
    {"image": "r/x", "port": 0},
    {"image": "r/x", "port": 80, "ready": "healthz"},
    {"image": "r/x", "port": 80, "resources": {"requests": {"cpu": 0.5}}},
    {"image": "r/x", "port": 80, "surprise": 1},
])
def test_invalid_run_kubernetes_sections_are_refused(bad):
    with pytest.raises(ValidationError):
        KubernetesRunSpec(**bad)


def test_names_that_kubernetes_would_refuse_are_refused_early():
    with pytest.raises(InvalidInput):
        version_name("m" * 60, "10.20.30")


@pytest.mark.parametrize("canary", range(0, 101))
def test_route_weights_round_trip_through_the_256_scale(canary):
    weights = {"1.0.0": 100 - canary, "2.0.0": canary}

    assert to_percentages(to_route_weights(weights)) == weights
