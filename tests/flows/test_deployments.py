"""prefect.yaml and the block types, against the real Prefect server."""

from __future__ import annotations

import json
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
    store = httpx.get(f"{prefect_server.api_url}/block_types/slug/nahtlos-redis-session-store").json()
    schemas = httpx.post(f"{prefect_server.api_url}/block_schemas/filter", json={
        "block_schemas": {"block_type_id": {"any_": [store["id"]]}}}).json()
    assert [s["fields"]["secret_fields"] for s in schemas] == [["url"]]


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


def test_ci_starts_a_release_run_through_the_api_and_gets_its_url(prefect_server, capsys):
    from nahtlos.cli import main

    assert prefect(prefect_server, "work-pool", "create", "nahtlos", "--type", "process").returncode in (0, 1)
    assert prefect(prefect_server, "--no-prompt", "deploy", "--all").returncode == 0
    code = main(["release", "buergerservice", "--to", "forms=2.0.0", "--to", "registry=2.1.0",
                 "--api", prefect_server.api_url, "--json"])
    assert code == 0
    started = json.loads(capsys.readouterr().out)
    run = httpx.get(f"{prefect_server.api_url}/flow_runs/{started['flow_run_id']}").json()
    assert run["parameters"] == {"application": "buergerservice",
                                 "targets": {"forms": "2.0.0", "registry": "2.1.0"}}
    assert started["url"].endswith(f"/runs/flow-run/{started['flow_run_id']}")
    httpx.post(f"{prefect_server.api_url}/flow_runs/{run['id']}/set_state",
               json={"state": {"type": "CANCELLED"}, "force": True})  # no worker will take it


def test_ci_gets_exit_2_for_an_unknown_version_before_anything_starts(capsys):
    from nahtlos.cli import main

    assert main(["release", "buergerservice", "--to", "forms=9.9.9", "--api", "http://127.0.0.1:9/api"]) == 2
    assert "no version '9.9.9'" in capsys.readouterr().err
