"""Benchmark: a Buergerservice release under 300 requests/s from 500 logged-in users, and the references.

Four runs on the same machine, platform and load, one after the other:

- ``nahtlos``: the release flow (three waves, session-format change), with longer bakes so that the
  release itself carries at least 50,000 requests;
- ``broken``: payments 3.1.0, which nahtlos must roll back; the users keep going for as long;
- ``naive``: a maintenance window: stop the application, start the new versions;
- ``rolling``: a plain rolling replacement without the session handoff: module by module, in the
  order the descriptor lists them (as a script over the deployment list would), start the new
  version, send everything to it at once, move the pinned sessions, stop the old one; no release
  order from the planner, no compat writing, no drain by session count, no migration.

    .venv/bin/python -m benchmarks.zero_downtime [--users 500] [--rate 300] [--runs nahtlos,broken,naive,rolling]
                                                 [--record]
"""

from __future__ import annotations

import argparse
import json
import platform as host
import shutil
import time
from pathlib import Path

from nahtlos.demo.run import SCENARIOS, DemoOptions, _Users, run_demo
from nahtlos.demo.stack import Stack, free_port
from nahtlos.load import LoadConfig, LoadReport
from nahtlos.loader import load_application
from nahtlos.platforms.local.client import LocalPlatform

DESCRIPTOR = Path("deployments/buergerservice.yaml")
# Long enough that the good release alone carries >= 50,000 requests at 300/s (three waves).
LONG_BAKES = {"steps": [{"set_weight": 10}, {"bake": 25}, {"set_weight": 50}, {"bake": 25}, {"analyze": {}},
                        {"set_weight": 100}]}
REFERENCE_SECONDS = 60.0


def nahtlos_run(scenario: str, args: argparse.Namespace, workdir: Path) -> dict:
    report = run_demo(DemoOptions(scenario=scenario, users=args.users, rate=args.rate, workdir=workdir,
                                  strategy=LONG_BAKES, min_load_seconds=args.min_load_seconds),
                      say=lambda text: print(f"  [{scenario}] {text}", flush=True))
    return report.model_dump()


def reference_run(kind: str, args: argparse.Namespace, workdir: Path) -> dict:
    """The same release done the naive or the plain rolling way, on the same platform and load."""
    app = load_application(DESCRIPTOR)
    entry_port = free_port()
    app = app.model_copy(update={"routing": app.routing.model_copy(update={"entry_port": entry_port})})
    targets = SCENARIOS["release"]
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    with Stack(workdir.resolve(), say=print) as stack:
        redis_url = stack.start_redis()
        platform = stack.start_platform(app, redis_url=redis_url)
        users = _Users(LoadConfig(base_url=platform.status().entry_address, users=args.users, rate=args.rate,
                                  duration_seconds=REFERENCE_SECONDS * 4))
        users.start()
        time.sleep(REFERENCE_SECONDS / 3)
        started = time.monotonic()
        if kind == "naive":
            platform.down()
            new = _deployed(app, targets)
            stack.platform = LocalPlatform.up(new, state_dir=workdir / "platform", timeout=180)
        else:
            for module in (m for m in app.modules if m in targets):
                old, version = app.modules[module].deployed, targets[module]
                platform.deploy(module=module, version=version)
                platform.set_weights(module=module, weights={version: 100})
                platform.move_sessions(module=module, from_version=old, to_version=version)
                platform.retire(module=module, version=old)
        seconds = time.monotonic() - started
        time.sleep(max(0.0, REFERENCE_SECONDS - seconds - REFERENCE_SECONDS / 3))
        load = users.finish()
    return _row(kind, load, seconds)


def _deployed(app, targets):
    data = app.model_dump(by_alias=True, exclude_none=True)
    for module, version in targets.items():
        data["modules"][module]["deployed"] = version
    return type(app).model_validate(data)


def _row(kind: str, load: LoadReport, seconds: float) -> dict:
    return {"scenario": kind, "outcome": "replaced", "requests_total": load.requests_total,
            "requests_failed": load.requests_failed, "sessions_total": load.sessions_total,
            "sessions_lost": load.sessions_lost, "drafts_lost": load.drafts_lost, "release_seconds": round(seconds, 1),
            "failures_by_class": {k.value: v for k, v in load.counts.items() if k.value != "ok" and v},
            "latency_p99_ms": load.latency.p99_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--runs", default="nahtlos,broken,naive,rolling")
    parser.add_argument("--min-load-seconds", type=float, default=175.0, help="users run at least this long")
    parser.add_argument("--workdir", type=Path, default=Path(".nahtlos/bench"))
    parser.add_argument("--record", action="store_true", help="append the table to docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    for kind in args.runs.split(","):
        print(f"== {kind}", flush=True)
        workdir = args.workdir / kind
        if kind in ("nahtlos", "broken"):
            rows.append(nahtlos_run("release" if kind == "nahtlos" else "broken-canary", args, workdir))
        else:
            rows.append(reference_run(kind, args, workdir))
        print(json.dumps(rows[-1]), flush=True)
    table = render(rows, args)
    print(table)
    if args.record:
        with open("docs/benchmarks.md", "a") as out:
            out.write("\n" + table + "\n")


def render(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [f"## Zero-downtime release of Buergerservice vs. the references (issue #6)", "",
             f"Command: `.venv/bin/python -m benchmarks.zero_downtime --users {args.users} --rate {args.rate:g} "
             f"--runs {args.runs} --record` ({host.machine()}, 2 cores, run {time.strftime('%Y-%m-%d')})", "",
             "| run | outcome | release s | requests | failed | sessions | lost | drafts lost | p99 ms | failures |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['outcome']} | {r['release_seconds']} | {r['requests_total']} | "
                     f"{r['requests_failed']} | {r['sessions_total']} | {r['sessions_lost']} | {r['drafts_lost']} | "
                     f"{r['latency_p99_ms']:.0f} | {r['failures_by_class'] or '-'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
