"""Run one Buergerservice module at one version:

    python -m examples.buergerservice <module> --version X.Y.Z --port N [--host 127.0.0.1]

Environment: ``REDIS_URL`` (gateway, portal, appointments, documents),
``<MODULE>_SERVICE_URL`` for the modules it consumes, ``SESSION_IDLE_SECONDS``
(default 1800), ``SESSION_FORMAT_KEY`` (default ``nahtlos:session-format:<NAHTLOS_APP>``),
``BS_ERROR_RATE`` / ``BS_EXTRA_LATENCY_MS`` (fault injection),
``BS_GRACEFUL_SECONDS`` (default 8: in-flight requests may finish this long
after SIGTERM; keep it below the platform's stop grace), ``BS_ACCESS_LOG=1``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

import uvicorn

from examples.buergerservice import VERSIONS
from examples.buergerservice.service import ServiceInfo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.buergerservice", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", choices=sorted(VERSIONS))
    parser.add_argument("--version", required=True, help="module version X.Y.Z")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if args.version not in VERSIONS[args.module]:
        known = ", ".join(VERSIONS[args.module])
        parser.error(f"{args.module} has no version {args.version} (known: {known})")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.module}/{args.version} %(levelname)s %(message)s")
    info = ServiceInfo(args.module, args.version)
    app = importlib.import_module(f"examples.buergerservice.{args.module}").create_app(info)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="on",
                            access_log=os.environ.get("BS_ACCESS_LOG") == "1",
                            timeout_graceful_shutdown=float(os.environ.get("BS_GRACEFUL_SECONDS", "8")),
                            timeout_keep_alive=30)
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
