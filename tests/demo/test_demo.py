"""The one-command demo, end to end: real Redis, Prefect server, platform, users; no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SMALL: list[str] = []  # the default size: fewer users give the judge too few samples to promote


def demo(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nahtlos.cli", "demo", "--json", "--workdir",
                             str(tmp_path / "demo"), *SMALL, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def processes_marked(workdir: Path) -> list[int]:
    """Processes that inherited this demo run's mark (see nahtlos.demo.run.RUN_MARK)."""
    mark = f"NAHTLOS_DEMO_RUN={workdir.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if mark in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def wait_gone(workdir: Path, timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := processes_marked(workdir)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_the_demo_release_promotes_with_no_failed_request_and_no_lost_session(tmp_path):
    proc = demo(tmp_path)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert report["outcome"] == "promoted"
    assert report["requests_total"] > 500
    assert (report["requests_failed"], report["sessions_lost"], report["drafts_lost"]) == (0, 0, 0), report
    assert report["sessions_total"] >= 40 and report["release_seconds"] > 0
    assert wait_gone(tmp_path / "demo") == []


def test_the_broken_canary_is_rolled_back_and_nobody_notices(tmp_path):
    proc = demo(tmp_path, "--scenario", "broken-canary")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 3, err[-3000:]
    report = json.loads(out)
    assert report["outcome"] == "rolled_back" and report["rollback_seconds"] is not None
    assert (report["requests_failed"], report["sessions_lost"], report["drafts_lost"]) == (0, 0, 0), report
    assert wait_gone(tmp_path / "demo") == []


def test_ctrl_c_in_the_middle_of_a_release_leaves_no_process_behind(tmp_path):
    proc = demo(tmp_path)
    workdir = tmp_path / "demo"
    deadline = time.monotonic() + 300
    while not (workdir / "platform").exists() or len(processes_marked(workdir)) < 12:
        assert proc.poll() is None and time.monotonic() < deadline, "the demo did not get going"
        time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=180)
    assert proc.returncode == 130
    assert wait_gone(workdir) == []
