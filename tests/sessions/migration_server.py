"""A small real HTTP server on loopback serving the HTTP migration contract with the
test formats (what a module version in Java or Node would serve)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.sessions import twoformats

PATH = "/_nahtlos/sessions/migrate"


class MigrationHandler(BaseHTTPRequestHandler):
    server: "MigrationServer"
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service would offer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        # Read the body first: left unread, it would be parsed as the next request on this keep-alive
        # connection (and answered 400).
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != PATH:
            return self._answer(404, {"error": "not found"})
        if self.server.unavailable:
            return self._answer(503, {"error": "maintenance"})
        self.server.calls += 1
        try:
            record = twoformats.migrate(body["record"], body["to"])
        except ValueError as exc:
            # ``leaky`` breaks the contract on purpose: it puts record contents into the error.
            reason = f"{exc}: {json.dumps(body['record'])}" if self.server.leaky else str(exc)
            return self._answer(422, {"error": reason})
        self._answer(200, {"record": record})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


class MigrationServer(ThreadingHTTPServer):
    daemon_threads = True
    unavailable = False
    leaky = False
    calls = 0


@contextmanager
def migration_server() -> Iterator[MigrationServer]:
    server = MigrationServer(("127.0.0.1", 0), MigrationHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def address(server: MigrationServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
