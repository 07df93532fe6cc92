#!/usr/bin/env bash
# Run the whole test suite; installs and starts the servers the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
scripts/install-test-deps.sh
set +e
"$BIN/pytest" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
