"""KubernetesPlatform against a real API server, controller-manager, scheduler and KWOK pods
(Gateway API router, the default)."""

from __future__ import annotations

import pytest
from kubernetes import client

from nahtlos.errors import Conflict, DeployFailed, InvalidInput, ObjectRejected, PlatformError, UnknownObject
from tests.k8s.snapshots import pods_by_version, snapshot

HTTPROUTE = ("gateway.networking.k8s.io", "v1")


def read_route(api, namespace, name="front"):
    return client.CustomObjectsApi(api).get_namespaced_custom_object(*HTTPROUTE, namespace, "httproutes", name)


def weighted_backends(route) -> dict[str, int]:
    rule = next(r for r in route["spec"]["rules"] if r["name"] == "weighted")
    return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}


def test_deploy_creates_a_ready_deployment_with_graceful_settings_and_simulated_pods(make_platform, admin_api,
                                                                                      namespace):
    platform = make_platform()

    first = platform.deploy(module="front", version="1.0.0")
    second = platform.deploy(module="front", version="1.1.0")

    assert (first.ready, first.weight, second.ready, second.weight) == (True, 100, True, 0)
    assert pods_by_version(admin_api, namespace, "front") == {"1.0.0": 2, "1.1.0": 2}
    deployment = client.AppsV1Api(admin_api).read_namespaced_deployment("front-1-1-0", namespace)
    labels = deployment.metadata.labels
    assert labels == {"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/name": "front",
                      "app.kubernetes.io/version": "1.1.0", "app.kubernetes.io/managed-by": "nahtlos"}
    assert deployment.spec.strategy.rolling_update.max_unavailable == 0
    pod = deployment.spec.template.spec
    container = pod.containers[0]
    assert container.image == "registry.invalid/shop/front:1.1.0"
    assert container.readiness_probe.http_get.path == "/healthz"
    assert container.lifecycle.pre_stop.sleep.seconds == 1
    assert pod.termination_grace_period_seconds > 1 + 2  # preStop + drain
    env = {e.name: e.value for e in container.env}
    assert env["MIDDLE_URL"] == f"http://middle.{namespace}.svc.cluster.local:8081"
    assert env["GREETING"] == "front 1.1.0" and env["NAHTLOS_VERSION"] == "1.1.0" and env["PORT"] == "8080"


def test_deploying_the_same_version_twice_changes_nothing(make_platform, admin_api, namespace):
    platform = make_platform()
    platform.deploy(module="back", version="1.0.0")
    before = snapshot(admin_api, namespace)

    again = platform.deploy(module="back", version="1.0.0")

    assert again.ready and again.weight == 100
    assert snapshot(admin_api, namespace) == before


def test_weights_move_on_the_httproute_and_read_back_as_configured_but_unverified(make_platform, admin_api,
                                                                                  namespace):
    platform = make_platform()
    platform.deploy(module="front", version="1.0.0")
    platform.deploy(module="front", version="1.1.0")

    split = platform.set_weights(module="front", weights={"1.0.0": 90, "1.1.0": 10})

    assert split.configured == {"1.0.0": 90, "1.1.0": 10}
    assert split.live is None  # no gateway controller has accepted the route
    assert weighted_backends(read_route(admin_api, namespace)) == {"front-1-0-0": 90, "front-1-1-0": 10}
    assert platform.traffic(module="front") == split


def test_live_split_is_reported_only_while_a_controller_accepted_the_current_generation(make_platform, admin_api,
                                                                                       namespace):
    platform = make_platform()
    platform.deploy(module="front", version="1.0.0")
    platform.deploy(module="front", version="1.1.0")
    platform.set_weights(module="front", weights={"1.0.0": 75, "1.1.0": 25})
    route = read_route(admin_api, namespace)
    # What a gateway controller does when it has programmed the data plane:
    route["status"] = {"parents": [{
        "parentRef": route["spec"]["parentRefs"][0], "controllerName": "example.net/gateway",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                        "observedGeneration": route["metadata"]["generation"],
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}]}
    client.CustomObjectsApi(admin_api).replace_namespaced_custom_object_status(
        *HTTPROUTE, namespace, "httproutes", "front", route)

    assert platform.traffic(module="front").live == {"1.0.0": 75, "1.1.0": 25}
    changed = platform.set_weights(module="front", weights={"1.0.0": 50, "1.1.0": 50})
    assert changed.configured == {"1.0.0": 50, "1.1.0": 50} and changed.live is None  # new generation


def test_sessions_stick_through_cookie_rules_and_move_with_their_pins(make_platform, admin_api, namespace):
    platform = make_platform()
    platform.deploy(module="front", version="1.0.0")
    platform.deploy(module="front", version="1.1.0")

    moved = platform.move_sessions(module="front", from_version="1.0.0", to_version="1.1.0")

    rules = {rule["name"]: rule for rule in read_route(admin_api, namespace)["spec"]["rules"]}
    assert moved == 0  # pins are client cookies: the API cannot count them
    assert rules["pin-1-0-0"]["backendRefs"][0]["name"] == "front-1-1-0"
    assert rules["pin-1-1-0"]["backendRefs"][0]["name"] == "front-1-1-0"
    session_match = rules["sessions"]["matches"][0]["headers"][0]
    assert session_match["name"] == "Cookie" and "shop_session=" in session_match["value"]
    assert rules["sessions"]["backendRefs"][0]["name"] == "front-1-1-0"  # baseline's pins moved too
    assert list(rules) == ["pin-1-0-0", "pin-1-1-0", "sessions", "weighted"]


def test_promote_leaves_only_the_new_version(make_platform, admin_api, namespace):
    platform = make_platform()
    platform.deploy(module="front", version="1.0.0")
    platform.deploy(module="front", version="1.1.0")
    platform.set_weights(module="front", weights={"1.1.0": 100})

    report = platform.drain(module="front", version="1.0.0", deadline=30, move_to="1.1.0")
    platform.retire(module="front", version="1.0.0")

    assert report.drained and report.waited_seconds >= 3  # unverifiable: preStop + drain window
    assert set(snapshot(admin_api, namespace)) == {"Deployment/front-1-1-0", "Service/front-1-1-0",
                                                   "Service/front", "HTTPRoute/front"}
    assert pods_by_version(admin_api, namespace, "front") == {"1.1.0": 2}
    route = read_route(admin_api, namespace)
    assert [rule["name"] for rule in route["spec"]["rules"]] == ["weighted"]
    assert weighted_backends(route) == {"front-1-1-0": 100}
    status = platform.status().modules["front"]
    assert list(status.versions) == ["1.1.0"] and status.split.configured == {"1.1.0": 100}


def test_retire_removes_every_object_of_the_version_and_refuses_a_version_with_weight(make_platform, admin_api,
                                                                                       namespace):
    platform = make_platform()
    platform.deploy(module="back", version="1.0.0")
    platform.deploy(module="back", version="1.1.0")
    platform.set_weights(module="back", weights={"1.1.0": 100})

    with pytest.raises(Conflict, match="100% of the traffic"):
        platform.retire(module="back", version="1.1.0")
    platform.retire(module="back", version="1.0.0")
    platform.retire(module="back", version="1.0.0")  # already gone: no-op

    assert set(snapshot(admin_api, namespace)) == {"Deployment/back-1-1-0", "Service/back-1-1-0", "Service/back",
                                                   "HTTPRoute/back"}
    assert pods_by_version(admin_api, namespace, "back") == {"1.1.0": 1}
    assert client.CoreV1Api(admin_api).list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/version=1.0.0").items == []


def test_rollback_leaves_the_cluster_objects_exactly_as_before(make_platform, admin_api, namespace):
    platform = make_platform()
    for module in ("front", "middle", "back"):
        platform.deploy(module=module, version="1.0.0")
    before = snapshot(admin_api, namespace)

    platform.deploy(module="middle", version="1.1.0")
    platform.set_weights(module="middle", weights={"1.0.0": 90, "1.1.0": 10})
    platform.move_sessions(module="middle", from_version="1.1.0", to_version="1.0.0")
    platform.set_weights(module="middle", weights={"1.0.0": 100})
    platform.drain(module="middle", version="1.1.0", deadline=30, move_to="1.0.0")
    platform.retire(module="middle", version="1.1.0")

    assert snapshot(admin_api, namespace) == before


def test_release_state_is_kept_on_the_deployments_and_inherited_by_new_versions(make_platform):
    platform = make_platform()
    platform.deploy(module="back", version="1.0.0")

    platform.set_release_state(module="back", state={"phase": "canary", "target": "1.1.0"})
    platform.deploy(module="back", version="1.1.0")

    status = platform.status().modules["back"]
    assert status.release_state == {"phase": "canary", "target": "1.1.0"}
    assert status.service_address.startswith("http://back.")
    fresh = make_platform()  # a re-run reconciles from the cluster alone
    assert fresh.status().modules["back"].release_state == {"phase": "canary", "target": "1.1.0"}


def test_unknown_versions_and_bad_weights_are_refused(make_platform):
    platform = make_platform()
    platform.deploy(module="back", version="1.0.0")

    with pytest.raises(UnknownObject, match="1.1.0"):
        platform.set_weights(module="back", weights={"1.0.0": 50, "1.1.0": 50})
    with pytest.raises(InvalidInput, match="summing to 100"):
        platform.set_weights(module="back", weights={"1.0.0": 90})
    with pytest.raises(UnknownObject):
        platform.deploy(module="back", version="9.9.9")
    with pytest.raises(PlatformError, match="only running version"):
        platform.drain(module="back", version="1.0.0", deadline=1)


def test_a_version_that_never_becomes_ready_fails_with_the_schedulers_reason(make_platform, shop_app):
    spec = shop_app.modules["back"].run.kubernetes
    huge = spec.model_copy(update={"resources": spec.resources.model_copy(update={"requests": {"cpu": "500"}})})
    module = shop_app.modules["back"]
    app = shop_app.model_copy(update={"modules": {
        **shop_app.modules, "back": module.model_copy(update={"run": module.run.model_copy(update={"kubernetes": huge})})}})
    platform = make_platform(app=app)

    with pytest.raises(DeployFailed) as failure:
        platform.deploy(module="back", version="1.0.0", timeout=4)

    assert "0 of 1 replicas ready" in str(failure.value)
    assert "Insufficient cpu" in str(failure.value)
    assert failure.value.subject.startswith("Deployment ")


def test_an_object_the_api_server_rejects_is_reported_with_object_and_reason(make_platform):
    platform = make_platform(gateway={"name": "public", "sectionName": "Not A Valid Listener!"})

    with pytest.raises(ObjectRejected) as rejected:
        platform.deploy(module="back", version="1.0.0")

    assert rejected.value.subject.startswith("HTTPRoute ") and rejected.value.subject.endswith("/back")
    assert "parentRefs" in str(rejected.value) and not rejected.value.transient
