"""``nahtlos rollback APP [--to MODULE=VERSION ...] [--wait]``: back to the last promoted state."""

from __future__ import annotations

import argparse

from nahtlos.commands.plan import parse_targets
from nahtlos.commands.release import add_api_arguments, trigger


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rollback", help="roll back canaries in progress, or return modules to given versions")
    parser.add_argument("application")
    parser.add_argument("--to", dest="targets", action="append", default=[], metavar="MODULE=VERSION",
                        help="version to return a module to (repeatable); default: abort canaries in progress")
    parser.add_argument("--deployment", default="rollback", help="name of the rollback deployment")
    add_api_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    parameters = {"application": args.application}
    if args.targets:
        parameters["to"] = parse_targets(args.targets)
    return trigger(args, flow="rollback", parameters=parameters)
