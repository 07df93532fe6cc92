"""The OpenShift Route and replica-ratio routers against the real API server."""

from __future__ import annotations

from kubernetes import client

from tests.k8s.bootstrap import wait_until
from tests.k8s.snapshots import pods_by_version, snapshot


def read_openshift_route(api, namespace, name):
    return client.CustomObjectsApi(api).get_namespaced_custom_object("route.openshift.io", "v1", namespace, "routes",
                                                                     name)


def test_openshift_route_carries_weights_on_the_256_scale_and_reads_back_percentages(make_platform, admin_api,
                                                                                    namespace):
    platform = make_platform(router="openshift-route", domain="apps.example.org")
    platform.deploy(module="front", version="1.0.0")
    platform.deploy(module="front", version="1.1.0")

    split = platform.set_weights(module="front", weights={"1.0.0": 90, "1.1.0": 10})

    route = read_openshift_route(admin_api, namespace, "front")["spec"]
    assert route["to"] == {"kind": "Service", "name": "front-1-0-0", "weight": 230}
    assert route["alternateBackends"] == [{"kind": "Service", "name": "front-1-1-0", "weight": 26}]
    assert route["host"] == f"front-{namespace}.apps.example.org"
    assert split.configured == {"1.0.0": 90, "1.1.0": 10}
    assert split.live is None  # a Route's status never says which weights HAProxy loaded


def test_openshift_route_promotes_to_a_single_backend_and_rolls_back_exactly(make_platform, admin_api, namespace):
    platform = make_platform(router="openshift-route")
    platform.deploy(module="back", version="1.0.0")
    before = snapshot(admin_api, namespace)

    platform.deploy(module="back", version="1.1.0")
    platform.set_weights(module="back", weights={"1.0.0": 50, "1.1.0": 50})
    platform.set_weights(module="back", weights={"1.0.0": 100})
    platform.drain(module="back", version="1.1.0", deadline=30)
    platform.retire(module="back", version="1.1.0")
    assert snapshot(admin_api, namespace) == before

    platform.deploy(module="back", version="1.1.0")
    platform.set_weights(module="back", weights={"1.1.0": 100})
    platform.retire(module="back", version="1.0.0")
    route = read_openshift_route(admin_api, namespace, "back")["spec"]
    assert route["to"] == {"kind": "Service", "name": "back-1-1-0", "weight": 256}
    assert "alternateBackends" not in route
    service = client.CoreV1Api(admin_api).read_namespaced_service("back", namespace)
    assert service.spec.selector["app.kubernetes.io/version"] == "1.1.0"  # plain Service follows the majority


def test_replica_ratio_splits_by_ready_endpoints_behind_the_shared_service(make_platform, admin_api, namespace):
    platform = make_platform(router="replica-ratio")
    platform.deploy(module="front", version="1.0.0")
    platform.deploy(module="front", version="1.1.0")
    dark = platform.traffic(module="front")

    platform.set_weights(module="front", weights={"1.0.0": 50, "1.1.0": 50})
    wait_until(lambda: platform.traffic(module="front").live == {"1.0.0": 50, "1.1.0": 50}, timeout=60,
               what="endpoints of both versions")

    assert dark.configured == {"1.0.0": 100, "1.1.0": 0} and dark.live == {"1.0.0": 100, "1.1.0": 0}
    wait_until(lambda: pods_by_version(admin_api, namespace, "front") == {"1.0.0": 1, "1.1.0": 1}, timeout=60,
               what="a surplus pod of the scale-down to terminate")
    coarse = platform.set_weights(module="front", weights={"1.0.0": 90, "1.1.0": 10})
    wait_until(lambda: platform.traffic(module="front").live == {"1.0.0": 67, "1.1.0": 33}, timeout=60,
               what="2:1 endpoints")
    assert coarse.configured == {"1.0.0": 90, "1.1.0": 10}
    assert not platform.traffic(module="front").verified  # 10 % cannot be expressed with 2 replicas


def test_replica_ratio_drain_is_verified_from_the_endpoints(make_platform):
    platform = make_platform(router="replica-ratio")
    platform.deploy(module="back", version="1.0.0")
    platform.deploy(module="back", version="1.1.0")
    platform.set_weights(module="back", weights={"1.0.0": 50, "1.1.0": 50})

    report = platform.drain(module="back", version="1.0.0", deadline=60)

    assert report.drained
    assert platform.traffic(module="back").live == {"1.0.0": 0, "1.1.0": 100}
    assert platform.status().modules["back"].versions["1.0.0"].state == "draining"
