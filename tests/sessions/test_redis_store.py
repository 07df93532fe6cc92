from __future__ import annotations

import time

import pytest

from nahtlos.errors import StoreUnreachable
from nahtlos.sessions import records
from nahtlos.sessions.redis_store import RedisSessionStore
from nahtlos.sessions.redis_server import free_port
from nahtlos.sessions.store import Cas, Rewrite


def rewrite(store: RedisSessionStore, keys: list[str], plan) -> dict[str, Cas]:
    with store.writer() as writer:
        return writer.rewrite(keys, plan, journal="nahtlos:j")


def _upper(pairs: list[tuple[str, bytes | None]]) -> list[Rewrite]:
    return [Rewrite(key, raw.upper(), f"{records.fingerprint(raw)}:{records.fingerprint(raw.upper())}")
            for key, raw in pairs if raw is not None]


def test_a_rewrite_applies_where_nobody_wrote_since_the_read_and_keeps_the_ttl(store, client):
    for i in range(10):
        client.set(f"session:{i}", b"old", ex=500)

    outcomes = rewrite(store, [f"session:{i}" for i in range(10)], _upper)

    assert outcomes == {f"session:{i}": Cas.WRITTEN for i in range(10)}
    assert client.get("session:3") == b"OLD" and 490 < client.ttl("session:3") <= 500
    assert store.journal("nahtlos:j", ["session:3", "session:none"]) == [
        (records.fingerprint(b"old"), records.fingerprint(b"OLD")), None]
    assert client.ttl("nahtlos:j") > 0


def test_a_key_written_or_deleted_between_read_and_write_is_rewritten_from_its_users_version_or_left_gone(
        store, client):
    for i in range(8):
        client.set(f"session:{i}", b"old", ex=500)

    def users_interfere(pairs: list[tuple[str, bytes | None]]) -> list[Rewrite]:
        if not interfered:
            interfered.append(True)
            client.set("session:5", b"typed", keepttl=True)
            client.delete("session:2")
        return _upper(pairs)

    interfered: list[bool] = []
    outcomes = rewrite(store, [f"session:{i}" for i in range(8)], users_interfere)

    assert [outcomes[f"session:{i}"] for i in (0, 1, 3, 4, 5, 6, 7)] == [Cas.WRITTEN] * 7
    assert "session:2" not in outcomes and client.exists("session:2") == 0
    assert client.get("session:5") == b"TYPED"  # planned again from the user's bytes, not the stale ones
    assert client.get("session:4") == b"OLD"


def test_a_key_a_user_keeps_writing_is_reported_changed_and_left_alone(store, client):
    client.set("session:busy", b"old", ex=500)

    def user_always_first(pairs: list[tuple[str, bytes | None]]) -> list[Rewrite]:
        client.set("session:busy", b"typed again", keepttl=True)
        return _upper(pairs)

    outcomes = rewrite(store, ["session:busy"], user_always_first)

    assert outcomes == {"session:busy": Cas.CHANGED}
    assert client.get("session:busy") == b"typed again"


def test_a_rewrite_never_brings_back_a_session_that_expired_before_the_write(store, client):
    client.set("session:short", b"old", px=50)

    def slow(pairs: list[tuple[str, bytes | None]]) -> list[Rewrite]:
        time.sleep(0.15)
        return _upper(pairs)

    outcomes = rewrite(store, ["session:short"], slow)

    assert outcomes["session:short"] in (Cas.GONE, Cas.CHANGED)
    assert client.exists("session:short") == 0


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


def test_a_tracking_writer_hears_of_every_key_others_modified_but_not_of_its_own_writes(store, client):
    for i in range(6):
        client.set(f"session:{i}", b"a", ex=600)
    with store.writer(track_prefix="session:") as writer, store.writer(track_prefix="session:") as other:
        assert writer.touched() == set()
        assert rewrite_with(writer, ["session:0", "session:1"]) == {"session:0": Cas.WRITTEN,
                                                                    "session:1": Cas.WRITTEN}
        client.set("session:2", b"user")  # a user, right before the barrier
        client.delete("session:3")  # a logout
        client.set("elsewhere:1", b"x")  # outside the prefix
        assert writer.touched() == {"session:2", "session:3"}
        assert other.touched() == {"session:0", "session:1", "session:2", "session:3"}  # the writer's writes too
        assert writer.touched() == set()  # each change is told once
        client.set("session:0", b"user again")  # a user writes after the migration did
        assert writer.touched() == {"session:0"}


def test_a_writer_whose_connection_broke_no_longer_claims_to_know_what_changed(store, client):
    client.set("session:0", b"a", ex=600)
    with store.writer(track_prefix="session:") as writer:
        def fails(pairs):
            raise RuntimeError("the provider broke")
        with pytest.raises(RuntimeError):
            writer.rewrite(["session:0"], fails, journal="nahtlos:j")
        assert rewrite_with(writer, ["session:0"]) == {"session:0": Cas.WRITTEN}  # reconnected
        assert writer.touched() is None  # but the new connection is not tracked
    with store.writer() as untracked:
        assert untracked.touched() is None


def rewrite_with(writer, keys: list[str]) -> dict[str, Cas]:
    return writer.rewrite(keys, _upper, journal="nahtlos:j")
