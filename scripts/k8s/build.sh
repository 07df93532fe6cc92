#!/usr/bin/env bash
# Build (or reuse) the Kubernetes test control plane: kube-apiserver, kube-controller-manager,
# kube-scheduler and etcd from the wrapper module in this directory (k8s.io/kubernetes with its
# staging modules replaced by their published v0.x versions), and kwok from ./kwok.
# Binaries are cached outside the repository; a run with a matching cache takes well under a second.
#
#   scripts/k8s/build.sh            # prints the binary directory on its last line
#   K8S_BIN_DIR=/path scripts/k8s/build.sh
#
# Regenerating go.mod after a version bump: take every `k8s.io/X => ./staging/...` replace of the
# real go.mod of k8s.io/kubernetes@<version> (`go mod download -json k8s.io/kubernetes@<version>`,
# field GoMod), turn each into `k8s.io/X => k8s.io/X v0.<minor>.<patch>`, then `go get -tool` the
# three cmd packages and go.etcd.io/etcd/server/v3, and `go mod tidy`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=$(cd "$HERE" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
OUT=${K8S_BIN_DIR:-$HOME/.cache/nahtlos/k8s/$K8S_VERSION}
STAMP="$OUT/.inputs.sha256"
inputs_digest() { cat "$HERE/go.mod" "$HERE/go.sum" "$HERE/kwok/go.mod" "$HERE/kwok/go.sum" "$0" | sha256sum | cut -d' ' -f1; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(inputs_digest)" ]; then
  echo "control plane $K8S_VERSION cached in $OUT" >&2
  echo "$OUT"
  exit 0
fi

mkdir -p "$OUT"
# Two cores are shared with other work: build two packages at a time, compiler threads capped too.
export GOMAXPROCS=${GOMAXPROCS:-2} CGO_ENABLED=0 GOFLAGS="-trimpath -p=2 -mod=readonly"
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
STAMP_VERSION=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  # Without these the binaries report v0.0.0-master and version-dependent clients misbehave.
  STAMP_VERSION+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$MINOR"
  STAMP_VERSION+=" -X $pkg.gitTreeState=clean"
done

timed() { local start=$SECONDS; "$@"; echo "  took $((SECONDS - start)) s" >&2; }

echo "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION and etcd" >&2
(cd "$HERE" && timed go build -ldflags "-s -w$STAMP_VERSION" -o "$OUT/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler)
(cd "$HERE" && timed go build -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3)

echo "building kwok" >&2
(cd "$HERE/kwok" && timed go build -ldflags "-s -w" -o "$OUT/kwok" sigs.k8s.io/kwok/cmd/kwok)

# kwok has no built-in behaviour: the "fast" stages shipped in its module make nodes Ready,
# pods Running/Ready at once, and finish pod deletion (there is no kubelet to do it).
KWOK_DIR=$(cd "$HERE/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
STAGES="$KWOK_DIR/kustomize/stage"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  cat "$STAGES/$f"
  printf '\n---\n'
done > "$OUT/kwok-stages.yaml"

"$OUT/kube-apiserver" --version >&2
inputs_digest > "$STAMP"
echo "$OUT"
