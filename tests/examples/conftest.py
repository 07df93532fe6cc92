"""Real Buergerservice processes for the tests, started on demand and shared by the session
(see ``examples.buergerservice.stack``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from examples.buergerservice.stack import Stack
from nahtlos.sessions.redis_server import EmbeddedRedis


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    server = EmbeddedRedis(persistent=False).start()
    running = Stack(server.url, tmp_path_factory.mktemp("buergerservice-logs"))
    try:
        yield running
    finally:
        running.stop_all()
        server.stop(remove_data=True)
