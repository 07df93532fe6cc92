"""Benchmark: bulk session migration against a plain pipelined GET+SET loop (issue #4).

Seeds ``--sessions`` format-1 sessions of about ``--size`` bytes (with a TTL) in
a private redis-server, then alternates, ``--rounds`` times, in the same run:

1. the baseline: the same keys read with pipelined GETs and written back with
   pipelined SETs (KEEPTTL), ``--batch`` keys per pipeline: the practical limit
   of the store from one Python client on this machine;
2. ``migrate_all`` converting every session to the other format (1 -> 2, then
   2 -> 1, ...): SCAN, WATCH + MGET, the application's conversion, MULTI + SET
   KEEPTTL XX per record + the journal + EXEC per batch, and the confirming pass
   that finds nothing left (it reads only the keys others wrote meanwhile).

Rounds alternate so both measurements see the same machine load; the ratio is
taken per round and its median reported. Goal: migration >= 50 % of baseline.

    .venv/bin/python -m benchmarks.session_migration [--sessions 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import redis

from nahtlos.sessions.formats import census
from nahtlos.sessions.migrate import migrate_all
from nahtlos.sessions.providers import PythonMigrations
from nahtlos.sessions.redis_server import EmbeddedRedis
from nahtlos.sessions.redis_store import RedisSessionStore
from tests.sessions import twoformats
from tests.sessions.conftest import make_config

TTL_SECONDS = 3600


def seed(client: redis.Redis, count: int, size: int) -> list[str]:
    rng = random.Random(4)
    paddings = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=size)) for _ in range(64)]
    keys = []
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        record = twoformats.session_v1(i, rng=rng, size=0)
        record["tokens"]["access"] = paddings[i % 64][: max(0, size - len(json.dumps(record)))]
        key = f"session:{i:08x}{rng.getrandbits(64):016x}"
        keys.append(key)
        pipe.set(key, json.dumps(record), ex=TTL_SECONDS)
        if len(pipe) >= 1000:
            pipe.execute()
    pipe.execute()
    return keys


def baseline(client: redis.Redis, keys: list[str], batch: int) -> tuple[float, float]:
    """Sessions per second of pipelined GET + SET over ``keys``, and client CPU µs per session."""
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(keys), batch):
        chunk = keys[start:start + batch]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.get(key)
        values = pipe.execute()
        pipe = client.pipeline(transaction=False)
        for key, value in zip(chunk, values):
            pipe.set(key, value, keepttl=True)
        pipe.execute()
    return len(keys) / (time.perf_counter() - started), (time.process_time() - cpu) / len(keys) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=2000, help="approximate bytes of JSON per session")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--writers", type=int, default=3)
    args = parser.parse_args()

    config = make_config()
    provider = PythonMigrations(twoformats.migrate, name="tests.sessions.twoformats:migrate")
    with EmbeddedRedis(persistent=False) as server:
        client = redis.Redis.from_url(server.url)
        store = RedisSessionStore.from_url(server.url)
        keys = seed(client, args.sessions, args.size)
        mean_size = sum(len(v) for v in client.mget(keys[:1000])) / 1000
        print(f"{len(keys)} sessions of {mean_size:.0f} bytes on {server.binary}")
        rows = []
        for round_no in range(1, args.rounds + 1):
            base, base_cpu = baseline(client, keys, args.batch)
            target = 2 if round_no % 2 else 1
            cpu = time.process_time()
            report = migrate_all(store=store, config=config, provider=provider, to_schema=target,
                                 batch=args.batch, writers=args.writers)
            migration_cpu = (time.process_time() - cpu) / len(keys) * 1e6
            assert report.complete and report.migrated == len(keys), report.summary()
            migrated = report.migrated / report.seconds
            rows.append((base, migrated, migrated / base, base_cpu, migration_cpu))
            print(f"round {round_no}: baseline {base:,.0f} sessions/s ({base_cpu:.0f} µs CPU each); migration to "
                  f"{target} {migrated:,.0f} sessions/s ({migration_cpu:.0f} µs CPU each) in {report.seconds:.1f} s, "
                  f"{report.passes} passes; ratio {migrated / base:.2f}")
        counted = census(store=store, config=config)
        assert counted.by_schema == {target: len(keys)}, counted
        assert all(ttl > 0 for ttl in (client.ttl(k) for k in keys[:: max(1, len(keys) // 1000)]))
        client.close()
        store.close()
    bases, migrations, ratios, base_cpus, migration_cpus = zip(*rows)
    print(f"median: baseline {statistics.median(bases):,.0f} sessions/s, migration "
          f"{statistics.median(migrations):,.0f} sessions/s, ratio {statistics.median(ratios):.2f} "
          f"(best {max(ratios):.2f}; goal >= 0.50); client CPU per session: baseline "
          f"{statistics.median(base_cpus):.0f} µs, migration {statistics.median(migration_cpus):.0f} µs")


if __name__ == "__main__":
    main()
