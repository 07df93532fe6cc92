"""Conflicts, unreachable API servers and concurrent writers, against real servers."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from kubernetes import client

from nahtlos.errors import PlatformUnreachable
from nahtlos.platforms.kubernetes.api_errors import update_with_retry
from nahtlos.platforms.kubernetes.objects import Cluster
from tests.k8s.testenv import free_port

HTTPROUTE = ("gateway.networking.k8s.io", "v1", "httproutes")


def test_a_conflicting_concurrent_change_is_retried_on_a_fresh_read(admin_api, namespace):
    core = client.CoreV1Api(admin_api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "shared"}, "data": {}})
    seen: list[dict] = []

    def change(current):
        seen.append(dict(current.data or {}))
        if len(seen) == 1:  # someone else writes between our read and our write
            core.patch_namespaced_config_map("shared", namespace, {"data": {"theirs": "1"}})
        current.data = {**(current.data or {}), "ours": "1"}
        return current

    update_with_retry(read=lambda: core.read_namespaced_config_map("shared", namespace), change=change,
                      write=lambda body: core.replace_namespaced_config_map("shared", namespace, body),
                      subject="ConfigMap shared", action="update it")

    assert seen == [{}, {"theirs": "1"}]  # the second attempt saw the concurrent change
    assert core.read_namespaced_config_map("shared", namespace).data == {"theirs": "1", "ours": "1"}


def test_weights_survive_a_concurrent_writer_on_the_same_httproute(make_platform, admin_api, namespace, caplog):
    platform = make_platform()
    platform.deploy(module="back", version="1.0.0")
    platform.deploy(module="back", version="1.1.0")
    custom = client.CustomObjectsApi(admin_api)
    stop = threading.Event()

    def other_controller():  # keeps bumping an annotation with full updates, as a careless controller would
        count = 0
        while not stop.is_set() and count < 400:
            route = custom.get_namespaced_custom_object(*HTTPROUTE[:2], namespace, HTTPROUTE[2], "back")
            route["metadata"].setdefault("annotations", {})["other/bump"] = str(count)
            try:
                custom.replace_namespaced_custom_object(*HTTPROUTE[:2], namespace, HTTPROUTE[2], "back", route)
            except client.ApiException as exc:
                assert exc.status == 409
            count += 1
            time.sleep(0.02)  # busy, not a tight loop: a controller that never pauses starves everyone

    writer = threading.Thread(target=other_controller)
    caplog.set_level(logging.INFO, logger="nahtlos.platforms.kubernetes.api_errors")
    writer.start()
    try:
        for step in range(30):
            canary = (step * 7) % 101
            split = platform.set_weights(module="back", weights={"1.0.0": 100 - canary, "1.1.0": canary})
            assert split.configured == {"1.0.0": 100 - canary, "1.1.0": canary}
    finally:
        stop.set()
        writer.join()

    assert any("conflict" in record.getMessage() for record in caplog.records), "no conflict was provoked"


def test_an_unreachable_api_server_becomes_a_transient_error_naming_the_object(shop_app, tmp_path):
    from nahtlos.platforms.kubernetes import KubernetesPlatform

    configuration = client.Configuration()
    configuration.host = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    configuration.verify_ssl = False
    configuration.retries = 0
    platform = KubernetesPlatform(application=shop_app, api_client=client.ApiClient(configuration),
                                  namespace="nowhere")

    with pytest.raises(PlatformUnreachable) as unreachable:
        platform.traffic(module="front")

    assert unreachable.value.transient
    assert unreachable.value.subject == "HTTPRoute nowhere/front"


def test_cluster_reads_of_absent_objects_are_none_and_deletes_are_no_ops(admin_api, namespace):
    cluster = Cluster(admin_api, namespace)

    assert cluster.read_deployment("absent") is None
    assert cluster.read_custom("HTTPRoute", *HTTPROUTE, "absent") is None
    cluster.delete_deployment("absent")
    cluster.delete_custom("HTTPRoute", *HTTPROUTE, "absent")
