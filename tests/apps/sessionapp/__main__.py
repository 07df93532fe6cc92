"""python -m tests.apps.sessionapp --version X.Y.Z --port N --store PATH [--latency-ms MS]"""

from __future__ import annotations

import argparse

import uvicorn

from tests.apps.sessionapp import BEHAVIOUR, build_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="sessionapp")
    parser.add_argument("--version", required=True, choices=sorted(BEHAVIOUR))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True, help="SQLite file shared by every version")
    parser.add_argument("--latency-ms", type=float, default=0, help="added to every request but /healthz")
    args = parser.parse_args()
    app = build_app(version=args.version, store_path=args.store, latency_ms=args.latency_ms)
    # uvicorn handles SIGTERM gracefully: stop accepting, finish in-flight requests, then exit.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5, timeout_keep_alive=5)


if __name__ == "__main__":
    main()
