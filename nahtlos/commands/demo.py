"""``nahtlos demo [--scenario release|broken-canary] [--json]``: the Buergerservice release under load."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from nahtlos.demo.run import SCENARIOS, DemoOptions, DemoReport, run_demo


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="release Buergerservice under load with a local Prefect server and platform")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="release")
    parser.add_argument("--users", type=int, default=150, help="logged-in synthetic users")
    parser.add_argument("--rate", type=float, default=100.0, help="their requests per second in total")
    parser.add_argument("--workdir", type=Path, default=Path(".nahtlos/demo"), help="state and logs of this run")
    parser.add_argument("--descriptor", type=Path, default=Path("deployments/buergerservice.yaml"))
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # SIGTERM stops the demo like Ctrl-C, so every process it started is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else (lambda t: print(t, flush=True))
    report = run_demo(DemoOptions(scenario=args.scenario, users=args.users, rate=args.rate, workdir=args.workdir,
                                  descriptor=args.descriptor), say=say)
    print(report.model_dump_json() if args.json else render(report))
    return {"promoted": 0, "rolled_back": 3, "refused": 3}.get(report.outcome, 1)


def render(r: DemoReport) -> str:
    lines = [
        "",
        f"Release of Buergerservice ({r.scenario}): {r.outcome.upper()} after {r.release_seconds:.1f} s",
        f"  {r.message}" if r.message else "",
        f"  requests         {r.requests_total:>8}   failed {r.requests_failed}"
        + (f" {json.dumps(r.failures_by_class)}" if r.failures_by_class else ""),
        f"  sessions         {r.sessions_total:>8}   lost {r.sessions_lost}",
        f"  drafts verified  {r.drafts_verified:>8}   lost {r.drafts_lost}",
        f"  p99 latency      {r.latency_p99_ms:>8.1f} ms",
    ]
    if r.rollback_seconds is not None:
        lines.append(f"  rollback: first bad response to 100% on stable in {r.rollback_seconds:.2f} s")
    lines.append(f"  run: {r.flow_run_url}")
    return "\n".join(line for line in lines if line != "")
