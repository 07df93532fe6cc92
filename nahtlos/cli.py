"""The ``nahtlos`` command line.

Each sub-command lives in its own module under ``nahtlos.commands`` and exposes
``register(subparsers)``, which adds its parser and sets ``handler``. A handler
returns the exit code. Exit codes: 0 success, 2 invalid input, 3 refused or
rolled back. User errors print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from nahtlos.errors import NahtlosError

# Sub-command modules, in the order --help lists them.
COMMANDS = ["plan", "release", "rollback", "platform", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nahtlos", description="Zero-downtime releases of multi-module applications.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"nahtlos.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nahtlos.commands.{name}":
                raise
            continue  # not built yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints usage; map its exit code 2 to ours (also 2)
        return int(exc.code or 0)
    try:
        return int(args.handler(args) or 0)
    except NahtlosError as exc:
        report_error(exc, as_json=getattr(args, "json", False))
        return exc.exit_code
    except KeyboardInterrupt:
        print("nahtlos: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 0


def report_error(exc: NahtlosError, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    print(f"nahtlos: error: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
