"""``nahtlos release APP --to MODULE=VERSION ... [--wait] [--json]``: start a release from CI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nahtlos.commands.plan import add_target_arguments, parse_targets
from nahtlos.loader import load_application
from nahtlos.planning import validate_targets
from nahtlos.prefect_api import PrefectApi, outcome_of


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("release", help="start the release deployment through the Prefect API")
    parser.add_argument("application", help="application name (deployments/<application>.yaml)")
    add_target_arguments(parser)
    parser.add_argument("--deployment", default="on-demand", help="name of the release deployment")
    parser.add_argument("--descriptor", help="descriptor to check the targets against before starting "
                                             "(default: deployments/<application>.yaml when it exists)")
    add_api_arguments(parser)
    parser.set_defaults(handler=run)


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", help="Prefect API URL (default: $PREFECT_API_URL)")
    parser.add_argument("--wait", action="store_true", help="wait for the outcome; exit 0 promoted, 3 rolled back")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    targets = parse_targets(args.targets)
    descriptor = Path(args.descriptor or f"deployments/{args.application}.yaml")
    if args.descriptor or descriptor.exists():
        validate_targets(load_application(descriptor), targets)  # unknown module/version: exit 2 now
    return trigger(args, flow="release", parameters={"application": args.application, "targets": targets})


def trigger(args: argparse.Namespace, *, flow: str, parameters: dict) -> int:
    """Start ``flow``'s deployment, print its URL, optionally wait; the exit code tells the outcome."""
    api = PrefectApi(args.api)
    try:
        run_ = api.start(flow, args.deployment, parameters, tags=["ci", f"app:{args.application}"])
        url = api.ui_url(run_["id"])
        if not args.json:
            print(f"{flow} of {args.application} started: {url}", flush=True)
        if not args.wait:
            if args.json:
                print(json.dumps({"flow_run_id": run_["id"], "url": url, "state": "SCHEDULED"}))
            return 0
        progress = (lambda r: None) if args.json else (
            lambda r: print(f"  {r['state']['name']}", file=sys.stderr, flush=True))
        final = api.wait(run_["id"], timeout=args.timeout, on_change=progress)
    finally:
        api.close()
    outcome, code = outcome_of(final)
    message = (final.get("state") or {}).get("message") or ""
    if args.json:
        print(json.dumps({"flow_run_id": run_["id"], "url": url, "outcome": outcome, "message": message}))
    else:
        print(f"{outcome}: {message}")
    return code
