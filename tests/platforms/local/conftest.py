"""Fixtures for the local platform's integration tests: a daemon running tinyapp."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from nahtlos.platforms.local.client import LocalPlatform


@pytest.fixture
def local_platform(tinyapp, tmp_path) -> Iterator[LocalPlatform]:
    """A fresh daemon with tinyapp's deployed versions at 100 %, stopped afterwards."""
    platform = LocalPlatform.up(tinyapp, state_dir=tmp_path / "platform")
    try:
        yield platform
    finally:
        platform.down()
        platform.close()


def wait_until(condition, *, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
