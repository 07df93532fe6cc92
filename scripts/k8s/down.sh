#!/usr/bin/env bash
# Stop the control plane that scripts/k8s/up.sh started in DIR (by the PIDs recorded there).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:?usage: scripts/k8s/down.sh DIR}
cd "$ROOT" && exec .venv/bin/python -m tests.k8s.testenv down "$DIR"
