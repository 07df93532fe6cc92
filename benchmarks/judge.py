"""Benchmark: how long one judgement takes, and how fast it catches a 5 % error canary.

1. Time of ``judge()`` on windows of 1,000 and 1,000,000 requests per side (histograms from
   the router's buckets): the bake re-judges every second, so it must stay far below that.
2. Requests the canary needs before Fisher's exact test fails a canary with 5 % errors
   against a clean stable receiving 19 times its traffic (a 5 % canary weight), over 200 seeds.

    .venv/bin/python -m benchmarks.judge [--repeat 20]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from nahtlos.analysis.judge import judge
from nahtlos.analysis.models import AnalysisConfig, MetricsWindow, Verdict, WindowStats
from nahtlos.platforms.local.stats import LATENCY_BUCKETS


def stats(version: str, n: int, *, median: float, errors: int, rng: np.random.Generator) -> WindowStats:
    samples = np.sort(rng.lognormal(math.log(median), 0.4, n))
    buckets = {b: int(np.searchsorted(samples, b, side="right")) for b in LATENCY_BUCKETS}
    return WindowStats(version=version, responses=n, errors=errors, latency_buckets={**buckets, math.inf: n},
                       latency_sum_seconds=float(samples.sum()))


def time_judge(n: int, repeat: int) -> float:
    rng = np.random.default_rng(1)
    window = MetricsWindow(module="m", source="bench", started_at=0, ended_at=60, versions={
        "2": stats("2", n, median=0.12, errors=n // 200, rng=rng), "1": stats("1", n, median=0.1, errors=n // 250, rng=rng)})
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        judge(window=window, canary="2", stable="1", config=AnalysisConfig())
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def requests_to_fail(seed: int, *, error_rate: float = 0.05, weight: float = 0.05) -> int:
    rng = np.random.default_rng(seed)
    config, canary_errors, stable_errors = AnalysisConfig(), 0, 0
    for canary_n in range(1, 2000):
        canary_errors += rng.random() < error_rate
        stable_n = round(canary_n * (1 - weight) / weight)
        window = MetricsWindow(module="m", source="bench", started_at=0, ended_at=1, versions={
            "2": WindowStats(version="2", responses=canary_n, errors=canary_errors),
            "1": WindowStats(version="1", responses=stable_n, errors=stable_errors)})
        if canary_n % 5 == 0:  # the bake judges about once a second, not after every request
            result = judge(window=window, canary="2", stable="1", config=config)
            if result.error_rate.classification is Verdict.FAIL:
                return canary_n
    return 2000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for n in (1_000, 1_000_000):
        print(f"judge() with {n:,} requests per side: {time_judge(n, args.repeat) * 1000:.1f} ms (median of {args.repeat})")
    needed = sorted(requests_to_fail(seed) for seed in range(200))
    print(f"canary requests until a 5 % error canary fails (200 seeds): median {statistics.median(needed):.0f}, "
          f"90th percentile {needed[int(len(needed) * 0.9)]}, max {needed[-1]}")


if __name__ == "__main__":
    main()
