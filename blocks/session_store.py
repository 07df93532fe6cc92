from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from nahtlos.sessions.redis_store import RedisSessionStore


class RedisSessionStoreConfig(Block):
    """The Redis server holding the application's user sessions."""

    _block_type_name = "nahtlos Redis Session Store"
    _block_type_slug = "nahtlos-redis-session-store"
    _description = "Redis URL of the user-session store (may hold a password, so it is secret)."

    url: SecretStr = Field(..., description="redis://[:password@]host:port/db")

    def connect(self) -> RedisSessionStore:
        return RedisSessionStore.from_url(self.url.get_secret_value())
