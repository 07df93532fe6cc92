"""Module versions as real processes: start, wait for readiness, watch, stop.

Each version runs in its own process group (``setsid``), writes stdout and
stderr to ``<state_dir>/logs/<module>-<version>.log`` and survives a crash of
the daemon, which adopts it again on restart. A process that exits on its
own is reported as crashed and never restarted silently: the release flow
decides. Stopping sends SIGTERM to the group, waits ``stop_grace`` seconds,
then SIGKILLs whatever is left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from typing import Callable

from nahtlos.errors import DeployRefused
from nahtlos.platforms.local.spec import LocalRunSpec, Placeholders, process_command, process_environment


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (tells a PID apart from a reused one)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent: gone for our purposes
        return None
    return int(fields[19])


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exited (exit status unknown: the process was adopted after a daemon restart)"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class VersionProcess:
    """One running (or once running) version process."""

    def __init__(self, *, module: str, version: str, spec: LocalRunSpec, port: int, log_path: Path) -> None:
        self.module, self.version, self.spec, self.port, self.log_path = module, version, spec, port, log_path
        self.pid: int | None = None
        self.start_ticks: int | None = None
        self.exit_code: int | None = None
        self.exited = asyncio.Event()
        self.stopping = False
        self._proc: asyncio.subprocess.Process | None = None
        self._pidfd: int | None = None
        self.on_exit: Callable[[VersionProcess], None] | None = None

    @property
    def running(self) -> bool:
        return self.pid is not None and not self.exited.is_set()

    async def start(self, values: Placeholders, *, cwd: str | None) -> None:
        where = f"{self.module} {self.version}"
        try:
            argv = process_command(self.spec, values)
            env = process_environment(self.spec, values)
        except KeyError as exc:
            raise DeployRefused(exc.args[0], subject=where, hint="fix run.local in the descriptor") from None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- nahtlos: starting {where} on port {self.port} at {time.ctime()}\n".encode())
            log.flush()
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=cwd,
                    start_new_session=True)
            except FileNotFoundError:
                raise DeployRefused(f"command {argv[0]!r} not found", subject=where,
                                    hint="fix run.local.command in the descriptor (is it installed and on PATH?)") from None
            except PermissionError:
                raise DeployRefused(f"command {argv[0]!r} is not executable", subject=where,
                                    hint="fix run.local.command in the descriptor") from None
            except OSError as exc:
                raise DeployRefused(f"cannot start {argv[0]!r}: {exc.strerror}", subject=where) from None
        self.pid = self._proc.pid
        self.start_ticks = process_start_ticks(self.pid)
        asyncio.get_running_loop().create_task(self._reap())

    async def _reap(self) -> None:
        self.exit_code = await self._proc.wait()
        self._exited()

    def adopt(self, pid: int, start_ticks: int | None) -> bool:
        """Take over a process started by an earlier daemon; False when it is gone (or the PID was reused)."""
        if process_start_ticks(pid) is None or process_start_ticks(pid) != start_ticks:
            return False
        try:
            self._pidfd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            return False
        self.pid, self.start_ticks = pid, start_ticks
        asyncio.get_running_loop().add_reader(self._pidfd, self._adopted_exit)
        return True

    def _adopted_exit(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        self._exited()

    def _exited(self) -> None:
        self.exited.set()
        try:  # reap stragglers of the group (workers of a server whose master died)
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.on_exit is not None:
            self.on_exit(self)

    async def wait_ready(self, *, timeout: float) -> None:
        """Poll ``GET <ready>`` until it answers 2xx; raise DeployRefused on exit or timeout."""
        where = f"{self.module} {self.version}"
        deadline = time.monotonic() + timeout
        delay = 0.05
        last = "no answer"
        while True:
            if self.exited.is_set():
                raise DeployRefused(
                    f"{describe_exit(self.exit_code)} before it became ready", subject=where,
                    hint=f"see its log {self.log_path}")
            status = await probe(self.port, self.spec.ready, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            if status is not None and 200 <= status < 300:
                return
            last = f"answered {status}" if status else "no answer"
            if time.monotonic() + delay > deadline:
                raise DeployRefused(
                    f"readiness path {self.spec.ready} on port {self.port} did not answer 2xx within {timeout:g} s "
                    f"(last: {last})", subject=where, hint=f"see its log {self.log_path}")
            try:
                await asyncio.wait_for(self.exited.wait(), delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 1.5, 0.5)

    async def stop(self) -> None:
        """SIGTERM to the process group, ``stop_grace`` seconds, then SIGKILL."""
        if self.pid is None or self.exited.is_set():
            return
        self.stopping = True
        _signal_group(self.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.exited.wait(), self.spec.stop_grace)
        except asyncio.TimeoutError:
            _signal_group(self.pid, signal.SIGKILL)
            await self.exited.wait()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


async def probe(port: int, path: str, *, timeout: float) -> int | None:
    """Status code of ``GET path`` on 127.0.0.1:port, or None when nothing answered in time."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: nahtlos-probe\r\n"
                         "Connection: close\r\n\r\n".encode())
            line = await reader.readline()
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else None
    except (OSError, asyncio.TimeoutError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()
