"""Synthetic users against the real Buergerservice: can one process drive >= 300 requests/s with 500 users?

Starts an embedded Redis and all nine modules at their deployed versions as
plain processes wired directly to each other (no nahtlos platform in between,
so the figure is the application's and the load generator's own), runs the
Buergerservice journey from this process and reports throughput, latency,
failures and the CPU every process used.

    .venv/bin/python -m benchmarks.synthetic_users --users 500 --rate 300 --duration 60 [--record]

``--record`` appends the figures to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from examples.buergerservice.stack import ROOT, Stack
from examples.buergerservice.users import BuergerserviceJourney
from nahtlos.load import LoadConfig, LoadReport, SyntheticUsers
from nahtlos.sessions.redis_server import EmbeddedRedis

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def load_average() -> float:
    return os.getloadavg()[0]


def measure(args: argparse.Namespace) -> tuple[LoadReport, dict[str, float], float, float]:
    with EmbeddedRedis(persistent=False) as redis_server, tempfile.TemporaryDirectory() as logs:
        stack = Stack(redis_server.url, Path(logs))
        try:
            gateway = stack.url("gateway")
            pids = {p.module: p.process.pid for p in stack.processes() if p.process}
            pids["redis-server"] = redis_server._process.pid  # type: ignore[union-attr]
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            own = time.process_time()
            config = LoadConfig(base_url=gateway, users=args.users, rate=args.rate,
                                duration_seconds=args.duration, seed=args.seed)
            report = asyncio.run(SyntheticUsers(config, journey=BuergerserviceJourney).run())
            cpu = {name: round(cpu_seconds(pid) - before[name], 1) for name, pid in pids.items()}
            cpu["synthetic users (this process)"] = round(time.process_time() - own, 1)
            return report, cpu, load_average(), report.duration_seconds
        finally:
            stack.stop_all()


def markdown(args: argparse.Namespace, report: LoadReport, cpu: dict[str, float], load: float) -> str:
    failed = {k.value: v for k, v in report.counts.items() if v and k.value != "ok"} or "none"
    lat = report.latency
    busiest = ", ".join(f"{name} {seconds:g} s" for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])[:5])
    return f"""
## Synthetic users: 500 logged-in users at 300 requests/s from one process (issue #6)

Command: `.venv/bin/python -m benchmarks.synthetic_users --users {args.users} --rate {args.rate:g} --duration {args.duration:g} --record`

| what | figure |
|---|---|
| users logged in / sessions lost | {report.sessions_total} / {report.sessions_lost} |
| requests / achieved rate (target {args.rate:g}/s) | {report.requests_total:,} in the {args.duration:g} s schedule = **{report.requests_total / args.duration:.1f}/s** ({report.rate_achieved:g}/s counting until the last answer, at {report.duration_seconds:g} s) |
| failed requests, by class | {report.requests_failed} ({failed}) |
| drafts read back and compared / lost | {report.drafts_verified:,} / {report.drafts_lost} |
| latency through the gateway p50 / p90 / p99 / max | {lat.p50_ms:g} / {lat.p90_ms:g} / {lat.p99_ms:g} / {lat.max_ms:g} ms |
| CPU seconds used during the run (top 5) | {busiest} |
| load average (1 min) at the end, other jobs included | {load:.1f} |

The application is the nine Buergerservice modules at their deployed versions, wired directly (no
platform router in between), sharing one Redis; the load runs in one asyncio process with one
keep-alive connection per user and no retries. Two changes made this rate possible on 2 cores: the
synthetic users and the modules avoid httpcore's shared connection pool (its bookkeeping costs
O(connections) per request): each user has its own one-connection transport, and the modules call
each other through aiohttp.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="append the figures to docs/benchmarks.md")
    args = parser.parse_args()
    report, cpu, load, _ = measure(args)
    print(report.model_dump_json(indent=2, exclude={"failures"}))
    print("CPU seconds:", cpu, "load average:", load)
    if args.record:
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as out:
            out.write(markdown(args, report, cpu, load))


if __name__ == "__main__":
    main()
