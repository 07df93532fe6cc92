"""Shared pieces of the session tests: a config, a store on the test Redis, seeding."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
import redis

from nahtlos.sessions.config import SessionsConfig
from nahtlos.sessions.providers import PythonMigrations
from nahtlos.sessions.redis_store import RedisSessionStore
from tests.sessions import twoformats

TTL_SECONDS = 3600


def make_config(**overrides: object) -> SessionsConfig:
    fields = {"key_pattern": "session:*", "schema_field": "schema", "format_key": "nahtlos:session-format:test",
              "user_fields": twoformats.USER_FIELDS,
              "migrations": {"python": "tests.sessions.twoformats:migrate"}} | overrides
    return SessionsConfig.model_validate(fields)


def seed(client: redis.Redis, count: int, *, ttl: int = TTL_SECONDS, size: int = 2000,
         seed_value: int = 7) -> dict[str, dict]:
    """``count`` format-1 sessions ``session:s<i>`` with drafts; returns them by key."""
    rng = random.Random(seed_value)
    sessions = {f"session:s{i:05d}": twoformats.session_v1(i, rng=rng, size=size) for i in range(count)}
    pipe = client.pipeline(transaction=False)
    for key, record in sessions.items():
        pipe.set(key, json.dumps(record), ex=ttl)
    pipe.execute()
    return sessions


@pytest.fixture
def config() -> SessionsConfig:
    return make_config()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisSessionStore]:
    opened = RedisSessionStore.from_url(redis_url)
    yield opened
    opened.close()


@pytest.fixture
def provider() -> PythonMigrations:
    return PythonMigrations.from_dotted("tests.sessions.twoformats:migrate")
