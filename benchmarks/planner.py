"""Benchmark: plan a synthetic application of 10,000 modules and 40,000 interface edges.

20% of the modules are released. Consumers depend on modules "below" them with
locality (like layered services), some released consumers need the new minor
of a released provider (so the plan has real precedence chains), a few modules
share the session store, and one per hundred pairs consume each other (cycles
of consumption are allowed). Goal (issue #2): planning under 1 s on 2 cores.

    .venv/bin/python -m benchmarks.planner [--modules 10000] [--edges 40000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time

from nahtlos.descriptor import Application
from nahtlos.planning import plan_release


def synthetic(modules: int, edges: int, share: float, seed: int = 7) -> tuple[Application, dict[str, str], int]:
    rng = random.Random(seed)
    names = [f"m{i:05d}" for i in range(modules)]
    released = set(rng.sample(range(modules), int(modules * share)))
    per_module = edges // modules
    consumes: dict[int, dict[str, str]] = {}
    for i in range(modules):
        pool = range(i + 1, min(modules, i + 200))
        targets = rng.sample(pool, min(per_module, len(pool))) if pool else []
        if i > 0 and rng.random() < 0.01:
            targets.append(i - 1)  # consumption cycle
        consumes[i] = {f"if-{j}": "^1.0" for j in targets}
    spec = {}
    for i, name in enumerate(names):
        old = {"provides": {f"if-{i}": "1.0.0"}, "consumes": consumes[i]}
        versions = {"1.0.0": old}
        if i in released:
            needs = {k: (">=1.1,<2" if int(k[3:]) in released and rng.random() < 0.3 else v)
                     for k, v in consumes[i].items()}
            versions["1.1.0"] = {"provides": {f"if-{i}": ["1.0.0", "1.1.0"]}, "consumes": needs}
        if i % 2000 == 0:
            old["session"] = {"reads": [1], "writes": 1}
            if i in released:
                versions["1.1.0"]["session"] = {"reads": [1, 2], "writes": 2, "can_write": [1, 2]}
        spec[name] = {"deployed": "1.0.0", "versions": versions}
    app = Application.model_validate({"apiVersion": "nahtlos/v1", "kind": "Application", "name": "synthetic",
                                      "modules": spec})
    edge_count = sum(len(c) for c in consumes.values())
    return app, {names[i]: "1.1.0" for i in sorted(released)}, edge_count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=40_000)
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    app, targets, edge_count = synthetic(args.modules, args.edges, args.share)
    build = time.perf_counter() - t0
    timings = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        plan = plan_release(app, targets)
        timings.append(time.perf_counter() - t0)
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"application: {args.modules} modules, {edge_count} interface edges, {len(targets)} released "
          f"(descriptor built and validated in {build:.2f} s)")
    print(f"plan: releasable={plan.releasable}, {len(plan.waves)} waves, {len(plan.constraints)} constraints, "
          f"blast-radius entries {sum(len(v) for v in plan.blast_radius.values())}")
    print(f"planning time over {args.repeat} runs: median {statistics.median(timings):.3f} s, "
          f"min {min(timings):.3f} s, max {max(timings):.3f} s")


if __name__ == "__main__":
    main()
