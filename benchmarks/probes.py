"""Benchmark: how long the session-probe gate takes (issue #8).

Starts two sessionapp versions (1.0.0 stable, 1.1.0 compatible canary) as real processes on
127.0.0.1 sharing one session store, then runs the gate as ``prove_continuity`` does: create
the probe sessions on the stable version (log in, enter a note, check), replay them on the
canary, then on the stable version again. Reported per (count, parallel, added latency).
Goal: the default gate (20 sessions) under 2 s on loopback, so it can run twice per canary.

    .venv/bin/python -m benchmarks.probes [--counts 20 100] [--parallel 1 4 8] [--latency-ms 0 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from nahtlos.loader import load_application
from nahtlos.probes import create_probes, replay
from tests.fixtures.prefect_server import free_port

ROOT = Path(__file__).parents[1]


@contextmanager
def running(version: str, store: Path, latency_ms: float):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.apps.sessionapp", "--version", version, "--port", str(port),
                             "--store", str(store), "--latency-ms", str(latency_ms)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sessionapp {version} did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def gate_seconds(spec, stable: str, canary: str) -> tuple[float, float, float, int]:
    """(total, create, replays) seconds and the number of recognised replays."""
    started = time.perf_counter()
    probes = create_probes(spec, on=stable, label="1.0.0")
    created = time.perf_counter()
    on_canary = replay(probes, on=canary, label="1.1.0")
    on_stable = replay(probes, on=stable, label="1.0.0")
    done = time.perf_counter()
    assert probes.created.ok and on_canary.ok and on_stable.ok, (probes.created, on_canary, on_stable)
    return done - started, created - started, done - created, on_canary.recognised + on_stable.recognised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 20])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = load_application(ROOT / "tests" / "apps" / "sessionapp.yaml").probes
    print("| sessions | parallel | added latency | requests | gate median (min) | create | 2 replays |")
    print("|---|---|---|---|---|---|---|")
    for latency in args.latency_ms:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            store = Path(tmp) / "sessions.sqlite"
            stable = stack.enter_context(running("1.0.0", store, latency))
            canary = stack.enter_context(running("1.1.0", store, latency))
            for count in args.counts:
                for parallel in args.parallel:
                    spec = base.model_copy(update={"count": count, "parallel": parallel})
                    runs = [gate_seconds(spec, stable, canary) for _ in range(args.rounds)]
                    totals = [r[0] for r in runs]
                    requests = count * (len(spec.all_steps) + 2 * len(spec.check))
                    print(f"| {count} | {parallel} | {latency:g} ms | {requests} | {statistics.median(totals):.2f} s "
                          f"({min(totals):.2f}) | {statistics.median(r[1] for r in runs):.2f} s | "
                          f"{statistics.median(r[2] for r in runs):.2f} s |", flush=True)


if __name__ == "__main__":
    main()
