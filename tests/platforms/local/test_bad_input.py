"""Bad input gets a clear error (HTTP 4xx + JSON, CLI exit 2) and disturbs nothing that runs."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from nahtlos.errors import DeployRefused, PlatformUnreachable
from nahtlos.loader import load_application
from nahtlos.platforms.local.client import LocalPlatform
from tests.platforms.conftest import TINYAPP
from tests.platforms.local.backend import started_local_platform

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]

BROKEN_MODULES = {
    "missing": {"deployed": "1.0.0", "versions": {"1.0.0": {"provides": {"missing-api": "1.0.0"}}},
                "run": {"local": {"command": ["/nonexistent/nahtlos-no-such-command", "{port}"]}}},
    "sleepy": {"deployed": "1.0.0", "versions": {"1.0.0": {"provides": {"sleepy-api": "1.0.0"}}},
               "run": {"local": {"command": ["{python}", "-c", "import time; time.sleep(60)"],
                                 "ready_timeout": 1.5, "stop_grace": 1}}},
}


def descriptor(tmp_path: Path, *, broken: bool = False, entry_port: int = 0) -> Path:
    data = yaml.safe_load(TINYAPP.read_text())
    if broken:
        data["modules"].update(BROKEN_MODULES)
    data["routing"]["entry_port"] = entry_port
    path = tmp_path / "tinyapp-variant.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def nahtlos(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nahtlos.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.fixture
def broken_platform(tmp_path):
    app = load_application(descriptor(tmp_path, broken=True))
    platform = LocalPlatform.up(app, state_dir=tmp_path / "platform", deploy_current=False)
    for module in ("front", "middle", "back"):
        platform.deploy(module=module, version="1.0.0")
        platform.set_weights(module=module, weights={"1.0.0": 100})
    try:
        yield platform
    finally:
        platform.down()
        platform.close()


@pytest.fixture(scope="module")
def shared_platform(tinyapp, tmp_path_factory):
    """One daemon for the tests that send requests which must change nothing."""
    with started_local_platform(tinyapp, tmp_path_factory) as platform:
        yield platform


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] not in "ZX":
                found.add(int(entry))
    return found


def assert_undisturbed(platform: LocalPlatform) -> None:
    status = platform.status()
    for module in ("front", "middle", "back"):
        version = status.modules[module].versions["1.0.0"]
        assert (version.state, version.ready, version.weight) == ("ready", True, 100)
    answer = httpx.get(status.entry_address + "/", timeout=10).json()
    assert answer["downstream"]["downstream"]["module"] == "back"


def test_a_command_that_does_not_exist_is_refused_with_its_name(broken_platform):
    with pytest.raises(DeployRefused, match="nahtlos-no-such-command.*not found"):
        broken_platform.deploy(module="missing", version="1.0.0")
    version = broken_platform.status().modules["missing"].versions["1.0.0"]
    assert (version.state, version.ready) == ("crashed", False)
    assert_undisturbed(broken_platform)


def test_a_readiness_path_that_never_answers_is_refused_and_its_process_stopped(broken_platform):
    daemon = broken_platform.state.read_json(broken_platform.state.daemon_file)["pid"]
    before = children_of(daemon)
    with pytest.raises(DeployRefused, match="did not answer 2xx within 1.5 s"):
        broken_platform.deploy(module="sleepy", version="1.0.0", timeout=30)
    assert children_of(daemon) == before  # the never-ready process was stopped, not left behind
    assert_undisturbed(broken_platform)


def test_a_port_in_use_fails_platform_up_with_exit_2_and_one_line(local_platform, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = nahtlos("platform", "up", str(descriptor(tmp_path, entry_port=port)),
                         "--state-dir", str(tmp_path / "second"), "--deploy-current")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Address already in use" in result.stderr
    assert_undisturbed(local_platform)


def test_a_failing_deploy_current_exits_2_and_keeps_serving_what_started(tmp_path):
    state = tmp_path / "platform"
    result = nahtlos("platform", "up", str(descriptor(tmp_path, broken=True)), "--state-dir", str(state),
                     "--deploy-current")
    try:
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "not found" in lines[0] and "Traceback" not in result.stderr
        status = nahtlos("platform", "status", "--state-dir", str(state), "--json")
        assert status.returncode == 0
    finally:
        down = nahtlos("platform", "down", "--state-dir", str(state))
    assert down.returncode == 0


@pytest.mark.parametrize("method, path, body, status, error", [
    ("POST", "/v1/modules/nope/versions/1.0.0/deploy", {}, 404, "UnknownObject"),
    ("POST", "/v1/modules/back/versions/7.7.7/deploy", {}, 404, "UnknownObject"),
    ("PUT", "/v1/modules/back/weights", {"weights": {"3.3.3": 100}}, 404, "UnknownObject"),
    ("POST", "/v1/modules/back/versions/1.0.0/drain", {"deadline": "soon"}, 400, "bad_request"),
    ("PUT", "/v1/modules/back/weights", {"weights": {"1.0.0": "all"}}, 400, "bad_request"),
    ("PUT", "/v1/modules/back/weights", {"weight": {"1.0.0": 100}}, 400, "bad_request"),
    ("PUT", "/v1/modules/back/weights", b"{not json", 400, "bad_request"),
    ("DELETE", "/v1/modules/back/versions/1.0.0", None, 409, "Conflict"),
    ("GET", "/v1/nothing-here", None, 404, "not_found"),
    ("PATCH", "/v1/status", None, 405, "method_not_allowed"),
])
def test_bad_admin_requests_get_a_json_error_and_change_nothing(shared_platform, method, path, body, status, error):
    info = shared_platform.state.read_json(shared_platform.state.daemon_file)
    token = shared_platform.state.token(create=False)
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = httpx.request(method, info["admin_url"] + path, headers={"authorization": f"Bearer {token}"},
                             timeout=10, **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["message"]
    assert_undisturbed(shared_platform)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz"])
def test_the_admin_api_answers_401_without_the_right_token(shared_platform, authorization):
    info = shared_platform.state.read_json(shared_platform.state.daemon_file)
    headers = {"authorization": authorization} if authorization else {}
    response = httpx.get(info["admin_url"] + "/v1/status", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


def test_the_token_is_readable_only_by_its_owner_and_metrics_need_none(shared_platform):
    mode = stat.S_IMODE(shared_platform.state.token_file.stat().st_mode)
    assert mode == 0o600
    info = shared_platform.state.read_json(shared_platform.state.daemon_file)
    assert info["admin_url"].startswith("http://127.0.0.1:")
    metrics = httpx.get(info["admin_url"] + "/metrics", timeout=10)
    assert metrics.status_code == 200 and "nahtlos_requests_total" in metrics.text


def test_attaching_to_a_platform_that_is_not_running_is_a_clear_error(tmp_path, tinyapp):
    with pytest.raises(PlatformUnreachable, match="daemon is not running"):
        LocalPlatform(tinyapp, state_dir=tmp_path).status()
