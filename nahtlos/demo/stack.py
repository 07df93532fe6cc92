"""The demo's processes: Redis, a Prefect server, the local platform, the deployment runner.

Every child runs in its own process group and is registered the moment it
starts; ``Stack.close()`` (also on Ctrl-C, SIGTERM or any failure) stops them
all, newest first: SIGTERM to the group, a grace period, then SIGKILL. No
process outlives the demo.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import httpx

from nahtlos.descriptor import Application
from nahtlos.errors import NahtlosError, PlatformUnreachable
from nahtlos.platforms.local.client import LocalPlatform
from nahtlos.sessions.redis_server import EmbeddedRedis

PREFECT_PORT = 4200  # the UI's usual address; another free port when taken


def free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free port")


class Stack:
    def __init__(self, workdir: Path, *, say: Callable[[str], None]) -> None:
        self.workdir = workdir
        self.say = say
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self.redis: EmbeddedRedis | None = None
        self.platform: LocalPlatform | None = None
        self.api_url = ""

    # -- starting -----------------------------------------------------------------------

    def start_redis(self) -> str:
        (self.workdir / "redis").mkdir(parents=True, exist_ok=True)
        self.redis = EmbeddedRedis(directory=self.workdir / "redis")
        self.redis.start()
        self._stops.append(("redis", lambda: self.redis.stop(remove_data=True)))
        return self.redis.url

    def start_prefect(self) -> str:
        home = self.workdir / "prefect"
        home.mkdir(parents=True, exist_ok=True)
        port = free_port(PREFECT_PORT)
        self.api_url = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_API_HOST": "127.0.0.1",
               "PREFECT_SERVER_API_PORT": str(port), "PREFECT_API_URL": self.api_url,
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
               "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false"}
        self._spawn("prefect server", [sys.executable, "-m", "prefect", "server", "start"], env,
                    home / "server.log")
        self._wait_http(f"{self.api_url}/health", "the Prefect server", timeout=180, log=home / "server.log")
        return self.api_url

    def start_platform(self, app: Application, *, redis_url: str) -> LocalPlatform:
        os.environ["REDIS_URL"] = redis_url  # run.local of the demo modules reads {env:REDIS_URL}
        state = self.workdir / "platform"
        self._stops.append(("platform", self._stop_platform))
        self.platform = LocalPlatform.up(app, state_dir=state, timeout=180)
        return self.platform

    def start_runner(self, *, catalog: Path, redis_url: str) -> None:
        """Serve the release deployments from a child process (blocks named ``default``)."""
        env = {**os.environ, "PREFECT_API_URL": self.api_url, "DO_NOT_TRACK": "1",
               "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
        argv = [sys.executable, "-m", "flows.serve", "--catalog", str(catalog),
                "--state-dir", str(self.workdir / "platform"), "--redis-url", redis_url]
        self._spawn("deployment runner", argv, env, self.workdir / "runner.log")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/deployments/name/release/on-demand", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise PlatformUnreachable("the release deployment did not appear", subject="flows.serve",
                                  hint=f"see {self.workdir / 'runner.log'}")

    # -- stopping -----------------------------------------------------------------------

    def close(self) -> None:
        while self._stops:
            name, stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                self.say(f"  could not stop {name} cleanly ({type(exc).__name__}); killed")

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stop_platform(self) -> None:
        platform = self.platform or LocalPlatform(state_dir=self.workdir / "platform")
        try:
            platform.down(timeout=60)
        except PlatformUnreachable:
            pass  # never came up

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        handle = open(log, "ab")
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=os.getcwd())
        self._stops.append((name, lambda: _stop_group(proc, handle)))
        return proc

    def _wait_http(self, url: str, what: str, *, timeout: float, log: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise NahtlosError(f"{what} did not answer within {timeout:g} s", subject=url, hint=f"see {log}")


def _stop_group(proc: subprocess.Popen, handle, grace: float = 15.0) -> None:
    try:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        else:  # the leader is gone; children of its group may not be
            os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        handle.close()
