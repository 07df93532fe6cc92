"""Version processes: any HTTP server starts, crashes are reported, SIGTERM escalates to SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

from nahtlos.errors import DeployRefused
from nahtlos.platforms.local.spec import LocalRunSpec, Placeholders
from nahtlos.platforms.local.supervisor import VersionProcess, free_port, probe

IGNORES_SIGTERM = ("import http.server, signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)"
                   ".serve_forever()")


def values(port: int) -> Placeholders:
    return Placeholders(port=port, version="1.0.0", module="files", app="t", python=sys.executable,
                        state_dir="/tmp", service_urls={}, environ=dict(os.environ))


def process(tmp_path, command: list[str], **spec) -> VersionProcess:
    port = free_port()
    return VersionProcess(module="files", version="1.0.0", spec=LocalRunSpec(command=command, ready="/", **spec),
                          port=port, log_path=tmp_path / "files.log")


def test_a_stock_http_server_runs_as_a_version_and_stops_on_sigterm(tmp_path):
    async def scenario() -> None:
        proc = process(tmp_path, ["{python}", "-m", "http.server", "{port}", "--bind", "127.0.0.1"])
        await proc.start(values(proc.port), cwd=str(tmp_path))
        await proc.wait_ready(timeout=20)
        assert await probe(proc.port, "/", timeout=5) == 200
        began = time.monotonic()
        await proc.stop()
        assert proc.exited.is_set() and proc.exit_code == -signal.SIGTERM
        assert time.monotonic() - began < 5
    asyncio.run(scenario())


def test_a_version_that_ignores_sigterm_is_killed_after_its_grace_period(tmp_path):
    async def scenario() -> None:
        proc = process(tmp_path, ["{python}", "-c", IGNORES_SIGTERM, "{port}"], stop_grace=1)
        await proc.start(values(proc.port), cwd=str(tmp_path))
        await proc.wait_ready(timeout=20)
        began = time.monotonic()
        await proc.stop()
        assert proc.exit_code == -signal.SIGKILL
        assert 1 <= time.monotonic() - began < 5
    asyncio.run(scenario())


def test_a_crash_is_reported_once_with_its_exit_and_not_restarted(tmp_path):
    async def scenario() -> None:
        proc = process(tmp_path, ["{python}", "-m", "http.server", "{port}", "--bind", "127.0.0.1"])
        reported = []
        proc.on_exit = reported.append
        await proc.start(values(proc.port), cwd=str(tmp_path))
        await proc.wait_ready(timeout=20)
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.exited.wait(), 5)
        await asyncio.sleep(0.5)
        assert reported == [proc] and proc.exit_code == -signal.SIGKILL
        assert await probe(proc.port, "/", timeout=1) is None
    asyncio.run(scenario())


def test_a_process_that_exits_before_it_is_ready_names_its_exit_and_its_log(tmp_path):
    async def scenario() -> None:
        proc = process(tmp_path, ["{python}", "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"])
        await proc.start(values(proc.port), cwd=str(tmp_path))
        with pytest.raises(DeployRefused, match="exited with code 3 before it became ready.*files.log"):
            await proc.wait_ready(timeout=20)
        assert "boom" in (tmp_path / "files.log").read_text()
    asyncio.run(scenario())
