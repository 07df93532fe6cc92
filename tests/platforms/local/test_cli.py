"""`nahtlos platform up|status|down` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.platforms.conftest import TINYAPP
from tests.platforms.local.test_bad_input import ROOT

pytestmark = pytest.mark.slow


def nahtlos(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nahtlos.cli", "platform", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_up_status_and_down_are_idempotent_and_report_what_runs(tmp_path):
    state = str(tmp_path / "state")
    first = nahtlos("up", str(TINYAPP), "--state-dir", state, "--deploy-current", "--json")
    try:
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert report["started"] is True
        entry = report["status"]["entry_address"]
        assert httpx.get(entry + "/", timeout=10).json()["downstream"]["downstream"]["version"] == "1.0.0"

        again = nahtlos("up", str(TINYAPP), "--state-dir", state, "--deploy-current")
        assert again.returncode == 0 and again.stdout.startswith("Already running")

        status = nahtlos("status", "--state-dir", state, "--json")
        modules = json.loads(status.stdout)["modules"]
        assert {m: list(v["versions"]) for m, v in modules.items()} == {
            "front": ["1.0.0"], "middle": ["1.0.0"], "back": ["1.0.0"]}
        text = nahtlos("status", "--state-dir", state).stdout
        assert "front" in text and "weight 100%" in text and "split verified" in text
    finally:
        down = nahtlos("down", "--state-dir", state)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert nahtlos("down", "--state-dir", state).returncode == 0
    gone = nahtlos("status", "--state-dir", state)
    assert gone.returncode == 1 and gone.stderr.count("\n") == 1 and "not running" in gone.stderr


def test_an_unreadable_descriptor_is_exit_2_with_one_line(tmp_path):
    result = nahtlos("up", str(tmp_path / "missing.yaml"), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "file not found" in result.stderr
