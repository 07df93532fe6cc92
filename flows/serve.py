"""Serve the nahtlos deployments from this process (no work pool needed), with default blocks.

    python -m flows.serve --catalog deployments --state-dir .nahtlos/platform [--redis-url URL]

Saves the blocks named ``default`` (application catalog, local platform,
session store) and serves ``release/on-demand``, ``rollback/rollback`` and
``plan/plan``, polling for new runs every second. Used by ``nahtlos demo``;
production uses ``prefect.yaml`` with a work pool instead.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")

from prefect import serve  # noqa: E402

from blocks import ApplicationCatalog, LocalPlatformConfig, RedisSessionStoreConfig  # noqa: E402
from flows.plan import plan  # noqa: E402
from flows.release import release  # noqa: E402
from flows.rollback import rollback  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="deployments")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--limit", type=int, default=4, help="flow runs at once")
    args = parser.parse_args()
    ApplicationCatalog(directory=os.path.abspath(args.catalog)).save("default", overwrite=True)
    LocalPlatformConfig(state_dir=os.path.abspath(args.state_dir)).save("default", overwrite=True)
    if args.redis_url:
        RedisSessionStoreConfig(url=args.redis_url).save("default", overwrite=True)
    session_store = "default" if args.redis_url else None
    serve(release.to_deployment(name="on-demand", parameters={"session_store": session_store}),
          rollback.to_deployment(name="rollback", parameters={"session_store": session_store}),
          plan.to_deployment(name="plan"), limit=args.limit, print_starting_message=False)


if __name__ == "__main__":
    main()
