#!/usr/bin/env bash
# Install the servers the test suite starts itself (Debian packages).
# Each test fixture starts its own instance on a free loopback port.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v prometheus >/dev/null || need+=(prometheus)
command -v haproxy >/dev/null || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing ${need[*]}: run as root or install them with apt-get" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Package post-install scripts start system-wide daemons; tests start their own.
for svc in redis-server prometheus haproxy; do
  (service "$svc" stop || systemctl stop "$svc") >/dev/null 2>&1 || true
done
