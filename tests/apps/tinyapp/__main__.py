"""python -m tests.apps.tinyapp MODULE --version X.Y.Z --port N [--downstream URL]"""

from __future__ import annotations

import argparse
import os

import uvicorn

from tests.apps.tinyapp import TinyApp


def main() -> None:
    parser = argparse.ArgumentParser(prog="tinyapp")
    parser.add_argument("module", choices=["front", "middle", "back"])
    parser.add_argument("--version", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--downstream", default=os.environ.get("TINYAPP_DOWNSTREAM") or None)
    args = parser.parse_args()
    app = TinyApp(args.module, args.version, downstream=args.downstream)
    # uvicorn handles SIGTERM gracefully: stop accepting, finish in-flight requests, then exit.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5, timeout_keep_alive=5)


if __name__ == "__main__":
    main()
