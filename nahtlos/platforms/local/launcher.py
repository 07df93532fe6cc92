"""Starting and stopping the daemon from the outside (CLI, tests, the demo).

``start_daemon`` writes the application into the state directory, spawns the
daemon in its own session and waits for its one-line startup report, so a
port in use or a broken state directory comes back as a clear error. A daemon
that already runs for the state directory is left alone and reused.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

from nahtlos.descriptor import Application
from nahtlos.errors import DeployFailed, InvalidInput, NahtlosError, PlatformError, PlatformUnreachable
from nahtlos.platforms.local.state import StateDir
from nahtlos.platforms.local.supervisor import process_start_ticks

_ERRORS = {cls.__name__: cls for cls in (InvalidInput, DeployFailed, PlatformError)}


def running_daemon(state: StateDir) -> dict[str, Any] | None:
    """The running daemon's info (pid, admin_url, entry_url ...), or None when none runs."""
    try:
        info = json.loads(state.daemon_file.read_text())
    except (OSError, ValueError):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or process_start_ticks(pid) is None or process_start_ticks(pid) != info.get("start_ticks"):
        return None
    return info


def start_daemon(app: Application, state: StateDir, *, admin_port: int | None = None,
                 timeout: float = 30.0) -> tuple[dict[str, Any], bool]:
    """(daemon info, started now?) — starts the daemon unless one already runs for ``state``."""
    state.create()
    info = running_daemon(state)
    if info is not None:
        if info.get("application") != app.name:
            raise InvalidInput(f"a platform for application {info.get('application')!r} already runs here",
                               subject=str(state.path), hint="use another --state-dir")
        return info, False
    state.write_json(state.application_file, app.model_dump(mode="json", by_alias=True, exclude_none=True))
    argv = [sys.executable, "-m", "nahtlos.platforms.local.daemon", "--state-dir", str(state.path)]
    if admin_port is not None:
        argv += ["--admin-port", str(admin_port)]
    with open(state.daemon_log, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True, env=_daemon_env())
    line = _read_line(proc, timeout)
    proc.stdout.close()
    if line is None:
        proc.kill()
        raise PlatformUnreachable(f"the daemon did not report within {timeout:g} s", subject=str(state.path),
                                  hint=f"see {state.daemon_log}")
    report = json.loads(line)
    if not report.get("ok"):
        proc.wait(timeout=10)
        raise _ERRORS.get(report.get("error"), _fallback(report))(report.get("message", "the daemon failed to start"))
    report.pop("ok")
    return report, True


def _fallback(report: dict[str, Any]) -> type[NahtlosError]:
    return InvalidInput if report.get("exit_code") == 2 else PlatformError


def _daemon_env() -> dict[str, str]:
    """The daemon imports nahtlos the way this process does (also from a source checkout)."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _read_line(proc: subprocess.Popen, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], min(0.2, deadline - time.monotonic()))
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return buffer.decode() or None
            buffer += chunk
            if b"\n" in buffer:
                return buffer.split(b"\n", 1)[0].decode()
        elif proc.poll() is not None and not ready:
            return buffer.decode() or None
    return None


def wait_for_exit(pid: int, start_ticks: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_start_ticks(pid) != start_ticks or process_start_ticks(pid) is None:
            return True
        time.sleep(0.05)
    return False


def stop_orphans(state: StateDir, *, grace: float = 10.0) -> int:
    """Stop version processes a crashed daemon left behind (from the desired state); returns how many."""
    desired = state.load_desired()
    if desired is None:
        return 0
    victims = [(v.pid, v.start_ticks) for m in desired.modules.values() for v in m.versions.values()
               if v.pid is not None and v.start_ticks is not None and process_start_ticks(v.pid) == v.start_ticks]
    for pid, _ in victims:
        _killpg(pid, signal.SIGTERM)
    for pid, ticks in victims:
        if not wait_for_exit(pid, ticks, grace):
            _killpg(pid, signal.SIGKILL)
    return len(victims)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
