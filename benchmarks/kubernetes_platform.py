"""Kubernetes platform timings against the loopback control plane (KWOK pods).

    .venv/bin/python -m benchmarks.kubernetes_platform [--rounds 20]

Measures: control-plane start (etcd .. kwok, nodes Ready, CRDs established), deploy of a
version until rolled out, set_weights round trip (write + read back), drain with a
verified route, retire until the pods are gone. Needs scripts/k8s/build.sh first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.k8s.testenv import ENABLE_HINT, find_binaries, start

APP = Path(__file__).resolve().parents[1] / "tests" / "k8s" / "k8sapp.yaml"


def timed(samples: dict[str, list[float]], name: str, fn, *args, **kwargs):
    began = time.perf_counter()
    result = fn(*args, **kwargs)
    samples.setdefault(name, []).append(time.perf_counter() - began)
    return result


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 1),
            "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="release cycles (deploy, weights, drain, retire)")
    rounds = parser.parse_args().rounds
    bin_dir = find_binaries()
    if bin_dir is None:
        print(f"no control-plane binaries: {ENABLE_HINT}", file=sys.stderr)
        return 1
    from kubernetes import client

    from nahtlos.loader import load_application
    from nahtlos.platforms.kubernetes import KubernetesPlatform
    from tests.k8s.bootstrap import api_client

    samples: dict[str, list[float]] = {}
    plane = timed(samples, "control_plane_start", start, bin_dir, Path(tempfile.mkdtemp(prefix="k8s-bench-")))
    try:
        with api_client(plane.kubeconfig) as api:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": "bench"}})
            platform = KubernetesPlatform(application=load_application(APP), api_client=api, namespace="bench",
                                          router="replica-ratio")
            platform.deploy(module="back", version="1.0.0")
            versions = ["1.0.0", "1.1.0"]
            for index in range(rounds):
                stable, canary = versions[index % 2], versions[(index + 1) % 2]
                timed(samples, "deploy_until_rolled_out", platform.deploy, module="back", version=canary)
                for percent in (10, 50, 100):
                    timed(samples, "set_weights_round_trip", platform.set_weights, module="back",
                          weights={stable: 100 - percent, canary: percent})
                timed(samples, "drain_verified_by_endpoints", platform.drain, module="back", version=stable,
                      deadline=60)
                timed(samples, "retire_until_pods_gone", platform.retire, module="back", version=stable)
    finally:
        plane.stop()
    print(json.dumps({name: summary(values) for name, values in samples.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
