"""``nahtlos platform up|down|status``: the local platform daemon.

    nahtlos platform up DESCRIPTOR [--state-dir DIR] [--deploy-current] [--foreground]
    nahtlos platform down [--state-dir DIR]
    nahtlos platform status [--state-dir DIR] [--json]

The state directory (default ``$NAHTLOS_STATE_DIR`` or ``.nahtlos/platform``)
holds the daemon's address, its admin token (mode 0600), the desired state,
and the logs of every version. Version commands run in the directory where
``up`` was first called.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from nahtlos.errors import NahtlosError, PlatformUnreachable
from nahtlos.loader import load_application
from nahtlos.platforms.base import PlatformStatus
from nahtlos.platforms.local.state import StateDir


def default_state_dir() -> str:
    return os.environ.get("NAHTLOS_STATE_DIR") or ".nahtlos/platform"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("platform", help="run the local platform (module versions as processes + router)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    up = verbs.add_parser("up", help="start the daemon (or restore it after a crash)")
    up.add_argument("descriptor", help="application descriptor, e.g. deployments/buergerservice.yaml")
    up.add_argument("--deploy-current", action="store_true",
                    help="run each module's deployed version with all traffic (modules that run nothing yet)")
    up.add_argument("--foreground", action="store_true", help="run the daemon in this process until Ctrl-C")
    up.set_defaults(handler=run_up)

    down = verbs.add_parser("down", help="stop every version and the daemon; forget the desired state")
    down.set_defaults(handler=run_down)

    status = verbs.add_parser("status", help="versions, weights, readiness and traffic per module")
    status.set_defaults(handler=run_status)

    for verb in (up, down, status):
        verb.add_argument("--state-dir", default=default_state_dir(),
                          help="state directory (default: $NAHTLOS_STATE_DIR or .nahtlos/platform)")
        verb.add_argument("--json", action="store_true", help="print one JSON object")


def run_up(args: argparse.Namespace) -> int:
    from nahtlos.platforms.local.client import LocalPlatform
    from nahtlos.platforms.local.launcher import start_daemon

    app = load_application(args.descriptor)
    state = StateDir(args.state_dir)
    if args.foreground:
        return _foreground(app, state, deploy_current=args.deploy_current, as_json=args.json)
    info, started = start_daemon(app, state)
    with LocalPlatform(app, state_dir=state.path) as platform:
        platform.wait_restored()
        if args.deploy_current:
            platform.deploy_current()
        status = platform.status()
    if args.json:
        print(json.dumps({"started": started, "state_dir": str(state.path), "admin_url": info["admin_url"],
                          "status": status.model_dump(mode="json")}))
    else:
        print(("Started" if started else "Already running:") + f" local platform for {app.name} "
              f"(state {state.path}, admin {info['admin_url']})")
        print(render(status))
    return 0


def _foreground(app, state: StateDir, *, deploy_current: bool, as_json: bool) -> int:
    from nahtlos.platforms.local.daemon import run_loop, serve
    from nahtlos.platforms.local.launcher import running_daemon

    if running_daemon(state) is not None:
        print(f"nahtlos: error: {state.path}: a daemon already runs for this state directory "
              "(use `nahtlos platform status`)", file=sys.stderr)
        return 2
    state.create()
    state.write_json(state.application_file, app.model_dump(mode="json", by_alias=True, exclude_none=True))
    failure: list[NahtlosError] = []

    def started(info: dict) -> None:
        print(json.dumps(info) if as_json else
              f"Serving {app.name}: entry {info['entry_url']}, admin {info['admin_url']} (Ctrl-C stops)", flush=True)

    async def deploy(control) -> None:
        for name, module in app.modules.items():
            routes = control.router.modules[name]
            if module.run is None or module.run.local is None or any(b.ready for b in routes.backends.values()):
                continue
            try:
                await control.deploy(module=name, version=module.deployed, timeout=120.0)
            except NahtlosError as exc:
                failure.append(exc)
                raise
            control.set_weights(module=name, weights={module.deployed: 100})

    run_loop(serve(state, admin_port=None, started=started, after_restore=deploy if deploy_current else None))
    if failure:
        print(f"nahtlos: error: {failure[0]}", file=sys.stderr)
        return failure[0].exit_code
    return 0


def run_down(args: argparse.Namespace) -> int:
    from nahtlos.platforms.local.client import LocalPlatform
    from nahtlos.platforms.local.launcher import running_daemon

    state = StateDir(args.state_dir)
    was_running = running_daemon(state) is not None
    leftovers = not was_running and state.desired.exists()
    if was_running or leftovers:
        LocalPlatform(state_dir=state.path).down()
    message = "stopped" if was_running else (
        "was not running; stopped what a crashed daemon left behind" if leftovers else "was not running")
    print(json.dumps({"stopped": was_running}) if args.json else f"Local platform {message}: {state.path}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from nahtlos.platforms.local.client import LocalPlatform

    state = StateDir(args.state_dir)
    if not state.token_file.exists():
        raise PlatformUnreachable("no local platform here", subject=str(state.path),
                                  hint="start one with `nahtlos platform up DESCRIPTOR`")
    with LocalPlatform(state_dir=state.path) as platform:
        status = platform.status()
    print(json.dumps(status.model_dump(mode="json")) if args.json else render(status))
    return 0


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)  # None: the backend cannot see it


def render(status: PlatformStatus) -> str:
    lines = [f"{status.application}: entry {status.entry_address or '-'}"]
    for name, module in sorted(status.modules.items()):
        live = "unknown" if module.split.live is None else ("verified" if module.split.verified else "DIFFERS")
        lines.append(f"  {name:<14} {module.service_address}   split {live}")
        for version, v in sorted(module.versions.items()):
            stats = v.stats
            lines.append(
                f"    {version:<10} {v.state:<9} {'ready' if v.ready else 'NOT READY':<9} weight {v.weight:>3}%  "
                f"in-flight {_count(v.in_flight):<3} pinned {_count(v.pinned_sessions):<4} requests {stats.requests} "
                f"(5xx {stats.status_5xx}, conn errors {stats.connection_errors})  {v.address}"
                + (f"\n               {v.message}" if v.message else ""))
        if not module.versions:
            lines.append("    (no version running)")
    return "\n".join(lines)
