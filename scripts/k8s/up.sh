#!/usr/bin/env bash
# Start the loopback test control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok with
# two simulated nodes, Gateway API and OpenShift Route CRDs) in DIR and print the KUBECONFIG line.
#   eval "$(scripts/k8s/up.sh /tmp/k8s)"   ...   scripts/k8s/down.sh /tmp/k8s
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:?usage: scripts/k8s/up.sh DIR}
"$ROOT/scripts/k8s/build.sh" >/dev/null
cd "$ROOT" && exec .venv/bin/python -m tests.k8s.testenv up "$DIR"
