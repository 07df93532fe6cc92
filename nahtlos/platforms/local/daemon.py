"""The local platform daemon: router + version processes + admin API in one event loop.

    python -m nahtlos.platforms.local.daemon --state-dir DIR [--admin-port N]

It reads the application from ``DIR/application.json`` (written by
``nahtlos platform up``), binds every listener, restores the desired state
and serves until ``POST /v1/shutdown`` (stop everything, forget the state) or
SIGTERM/SIGINT (stop everything, keep the state for the next ``up``). A crash
(SIGKILL) leaves the version processes running; the next daemon adopts them.

Startup is reported as one JSON line on stdout (``{"ok": true, ...}`` or
``{"ok": false, "error": ..., "message": ...}``), after which stdout and
stderr go to ``DIR/daemon.log``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any, Callable

from nahtlos.descriptor import Application
from nahtlos.errors import InvalidInput, NahtlosError
from nahtlos.platforms.local.admin import AdminServer
from nahtlos.platforms.local.control import HOST, LocalControl
from nahtlos.platforms.local.state import StateDir
from nahtlos.platforms.local.supervisor import process_start_ticks

log = logging.getLogger("nahtlos.platform")


def load_state_application(state: StateDir) -> Application:
    data = state.read_json(state.application_file)
    if data is None:
        raise InvalidInput("no application.json in the state directory", subject=str(state.path),
                           hint="start the platform with `nahtlos platform up DESCRIPTOR`")
    return Application.model_validate(data)


async def serve(state: StateDir, *, admin_port: int | None, started: Callable[[dict[str, Any]], None],
                after_restore: Callable[[LocalControl], Any] | None = None) -> None:
    """Run the daemon until told to stop. ``started`` is called once everything listens."""
    state.create()
    app = load_state_application(state)
    token = state.token(create=True)
    control = LocalControl(app, state)
    await control.open(workdir=os.getcwd())
    stop = asyncio.Event()
    forget = False

    def shutdown() -> None:
        nonlocal forget
        forget = True
        stop.set()

    admin = AdminServer(control, token=token, on_shutdown=shutdown)
    server = await _start_admin(admin, admin_port if admin_port is not None else control.desired.admin_port)
    control.desired.admin_port = server.sockets[0].getsockname()[1]
    control.save()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    info = {"pid": os.getpid(), "start_ticks": process_start_ticks(os.getpid()),
            "admin_url": f"http://{HOST}:{control.desired.admin_port}",
            "entry_url": f"http://{HOST}:{control.entry_port}" if control.entry_port else None,
            "application": app.name, "services": control.service_urls()}
    state.write_json(state.daemon_file, info)
    started(info)
    restore = loop.create_task(control.restore())
    if after_restore is not None:
        restore.add_done_callback(lambda _: loop.create_task(_call(after_restore, control, stop)))
    await stop.wait()
    log.info("stopping (%s)", "shutdown requested: forgetting the desired state" if forget else "signal")
    server.close()
    restore.cancel()
    await control.close(stop_versions=True)
    if forget:
        for path in (state.desired, state.pins):
            path.unlink(missing_ok=True)
    state.daemon_file.unlink(missing_ok=True)


async def _call(callback: Callable[[LocalControl], Any], control: LocalControl, stop: asyncio.Event) -> None:
    try:
        await callback(control)
    except Exception:
        stop.set()
        raise


async def _start_admin(admin: AdminServer, port: int) -> asyncio.base_events.Server:
    try:
        return await admin.start(HOST, port)
    except OSError as exc:
        if port == 0:
            raise
        log.warning("admin port %s unavailable (%s); using a free one", port, exc.strerror)
        return await admin.start(HOST, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nahtlos.platforms.local.daemon")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--admin-port", type=int, default=None)
    args = parser.parse_args(argv)
    state = StateDir(args.state_dir)
    handshake = os.fdopen(os.dup(1), "w")

    def started(info: dict[str, Any]) -> None:
        handshake.write(json.dumps({"ok": True, **info}) + "\n")
        handshake.close()
        log_fd = os.open(state.daemon_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_loop(serve(state, admin_port=args.admin_port, started=started))
    except NahtlosError as exc:
        if not handshake.closed:
            handshake.write(json.dumps({"ok": False, "error": type(exc).__name__, "message": str(exc),
                                        "exit_code": exc.exit_code}) + "\n")
            handshake.close()
        log.error("%s", exc)
        return exc.exit_code
    return 0


def run_loop(coro: Any) -> Any:
    """Run on uvloop when it is installed (faster data path), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    sys.exit(main())
