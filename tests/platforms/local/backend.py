"""The local backend for the platform contract suite (see tests/platforms/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nahtlos.descriptor import Application
from nahtlos.platforms.local.client import LocalPlatform


@contextmanager
def started_local_platform(app: Application, tmp_path_factory) -> Iterator[LocalPlatform]:
    platform = LocalPlatform.up(app, state_dir=tmp_path_factory.mktemp("local-platform"))
    try:
        yield platform
    finally:
        platform.down()
        platform.close()
