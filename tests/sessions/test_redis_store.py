from __future__ import annotations

import pytest

from nahtlos.errors import StoreUnreachable
from nahtlos.sessions import records
from nahtlos.sessions.redis_store import RedisSessionStore
from nahtlos.sessions.redis_server import free_port
from nahtlos.sessions.store import Cas, Replacement


def _replacement(key: str, read: bytes | None, new: bytes) -> Replacement:
    return Replacement(key, records.sha1(read or b""), new, records.sha1(new))


def test_compare_and_set_writes_only_what_is_unchanged_since_the_read_and_keeps_the_ttl(store, client):
    client.set("session:same", b"old", ex=500)
    client.set("session:changed", b"old", ex=500)
    client.hset("session:hash", "f", "v")
    client.set("session:changed", b"typed", keepttl=True)

    outcomes = store.replace([_replacement("session:same", b"old", b"new"),
                              _replacement("session:changed", b"old", b"new"),
                              _replacement("session:gone", b"old", b"new"),
                              _replacement("session:hash", b"old", b"new")], journal="nahtlos:j")

    assert outcomes == [Cas.WRITTEN, Cas.CHANGED, Cas.GONE, Cas.CHANGED]
    assert client.get("session:same") == b"new" and 490 < client.ttl("session:same") <= 500
    assert client.get("session:changed") == b"typed"
    assert client.exists("session:gone") == 0
    assert store.journal("nahtlos:j", ["session:same", "session:changed"]) == [
        (records.sha1(b"old"), records.sha1(b"new")), None]
    assert client.ttl("nahtlos:j") > 0


def test_reads_return_values_and_remaining_ttls_in_key_order(store, client):
    client.set("session:a", b"1", ex=100)
    client.set("session:b", b"2")

    assert store.read(["session:b", "session:none", "session:a"]) == [b"2", None, b"1"]
    expiring = store.read_with_expiry(["session:a", "session:b", "session:none"])
    assert 99_000 < expiring[0].ttl_ms <= 100_000
    assert expiring[1:] == [(b"2", None), (None, None)]


def test_scanning_finds_only_the_session_keys(store, client):
    for i in range(250):
        client.set(f"session:{i}", b"{}")
    client.set("nahtlos:session-format:test", b"1")

    found = [key for batch in store.scan(pattern="session:*", batch=100) for key in batch]

    assert sorted(set(found)) == sorted(f"session:{i}" for i in range(250))


def test_an_unreachable_store_raises_a_transient_error_naming_the_store_not_the_data():
    store = RedisSessionStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=1, retries=0)

    with pytest.raises(StoreUnreachable, match=r"redis://127\.0\.0\.1:\d+/0: reading sessions failed") as failed:
        store.read(["session:secret-id"])

    assert failed.value.transient
    assert "secret-id" not in str(failed.value)
