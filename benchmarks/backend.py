"""A minimal, fast HTTP/1.1 server used as the backend in router benchmarks.

Raw asyncio protocol + httptools (+ uvloop when installed), so that the backend
is never what limits the measured throughput. Answers every request with a
small JSON body naming its version; keeps connections alive.

    python benchmarks/backend.py --port 8001 --version 1.0.0
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import httptools


class _Handler(asyncio.Protocol):
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self) -> None:
        keep = self.parser.should_keep_alive()
        self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
                             % (len(self.body), b"" if keep else b"connection: close\r\n", self.body))
        if not keep:
            self.transport.close()


async def serve(port: int, version: str) -> None:
    body = b'{"version": "%s"}' % version.encode()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Handler(body), "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", default="1.0.0")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.port, args.version))


if __name__ == "__main__":
    main()
