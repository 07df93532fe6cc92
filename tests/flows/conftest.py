"""A running shop (local platform + Redis + Prefect blocks) for the release-flow tests."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from nahtlos.loader import load_application
from nahtlos.platforms.local.client import LocalPlatform

HERE = Path(__file__).parent


@dataclass
class Shop:
    platform: LocalPlatform
    redis: redis.Redis
    params: dict  # flow parameters naming the saved blocks
    catalog: Path

    def entry(self, path: str = "/") -> str:
        return self.platform.status().entry_address.rstrip("/") + path

    def versions(self, module: str) -> dict[str, int]:
        return dict(self.platform.traffic(module=module).configured)


@pytest.fixture
def shop(prefect_server, redis_server, tmp_path) -> Shop:
    from blocks import ApplicationCatalog, LocalPlatformConfig, RedisSessionStoreConfig

    catalog = tmp_path / "catalog"
    catalog.mkdir()
    shutil.copy(HERE / "shop.yaml", catalog / "shop.yaml")
    app = load_application(catalog / "shop.yaml")
    name = uuid.uuid4().hex[:8]
    platform = LocalPlatform.up(app, state_dir=tmp_path / "platform")
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    for i in range(50):  # logged-in users of the stable version (format 1)
        client.set(f"session:{i}", json.dumps({"schema": 1, "name": f"user {i}", "cart": [i, i + 1]}), ex=600)
    ApplicationCatalog(directory=str(catalog)).save(name, overwrite=True)
    LocalPlatformConfig(state_dir=str(tmp_path / "platform")).save(name, overwrite=True)
    RedisSessionStoreConfig(url=redis_server.url).save(name, overwrite=True)
    params = dict(catalog=name, platform=f"nahtlos-local-platform/{name}", session_store=name)
    try:
        yield Shop(platform=platform, redis=client, params=params, catalog=catalog)
    finally:
        platform.down()
        client.close()
