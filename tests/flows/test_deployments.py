"""prefect.yaml and the block types, against the real Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.slow


def prefect(server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_API_URL": server.api_url, "DO_NOT_TRACK": "1", "NAHTLOS_HOME": os.getcwd()}
    return subprocess.run([sys.executable, "-m", "prefect", *args], env=env, capture_output=True, text=True,
                          timeout=180)


def test_the_block_types_register_with_the_prefect_cli(prefect_server):
    done = prefect(prefect_server, "block", "register", "-m", "blocks")
    assert done.returncode == 0, done.stdout + done.stderr
    slugs = {b["slug"] for b in httpx.post(f"{prefect_server.api_url}/block_types/filter", json={}).json()}
    assert {"nahtlos-application-catalog", "nahtlos-local-platform", "nahtlos-kubernetes-platform",
            "nahtlos-redis-session-store", "nahtlos-prometheus"} <= slugs
    schema = httpx.post(f"{prefect_server.api_url}/block_schemas/filter", json={
        "block_types": {"slug": {"any_": ["nahtlos-redis-session-store"]}}}).json()[0]
    assert schema["fields"]["secret_fields"] == ["url"]


def test_prefect_yaml_deploys_the_release_deployments_with_schedule_and_rollback_trigger(prefect_server):
    assert prefect(prefect_server, "work-pool", "create", "nahtlos", "--type", "process").returncode in (0, 1)
    done = prefect(prefect_server, "--no-prompt", "deploy", "--all")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    api = prefect_server.api_url
    release = httpx.get(f"{api}/deployments/name/release/on-demand").json()
    assert set(release["parameter_openapi_schema"]["required"]) == {"application", "targets"}
    nightly = httpx.get(f"{api}/deployments/name/release/nightly-buergerservice").json()
    schedule = nightly["schedules"][0]["schedule"]
    assert schedule["cron"] == "0 3 * * *" and schedule["timezone"] == "Europe/Berlin"
    automations = httpx.post(f"{api}/automations/filter", json={}).json()
    trigger = next(a for a in automations if "notify-rollback" in a["name"])
    assert trigger["trigger"]["expect"] == ["nahtlos.release.rolled-back"]
