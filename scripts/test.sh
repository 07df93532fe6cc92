#!/usr/bin/env bash
# Run the whole test suite; installs and starts the servers the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
scripts/install-test-deps.sh
# Kubernetes control plane for tests/k8s: built from Go once (about 8 min on 2 cores), then cached.
if command -v go >/dev/null 2>&1; then scripts/k8s/build.sh >/dev/null; fi
set +e
"$BIN/pytest" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
