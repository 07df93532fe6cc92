"""Simulated application versions writing sessions while nahtlos migrates them."""

from __future__ import annotations

import copy
import json
import random
import threading
import time

import redis

from tests.sessions import twoformats


class Writer(threading.Thread):
    """Users typing: read a session, set its draft note, write it back in ``write_format``
    (the way an application version writes), keeping the TTL. Each writer owns its keys,
    so the last note it wrote to a key is what that key must hold at the end."""

    def __init__(self, url: str, keys: list[str], *, write_format: int, name: str, seed: int,
                 stop_after: float | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.client = redis.Redis.from_url(url)
        self.keys, self.write_format = keys, write_format
        self.rng = random.Random(seed)
        self.stop_after = stop_after
        self.halt = threading.Event()
        self.last: dict[str, str] = {}
        self.write_times: list[float] = []

    def run(self) -> None:
        started = time.monotonic()
        try:
            while not self.halt.is_set():
                if self.stop_after is not None and time.monotonic() - started > self.stop_after:
                    return
                key = self.rng.choice(self.keys)
                record = json.loads(self.client.get(key))
                record = twoformats.migrate(record, self.write_format)
                note = f"{self.name}-{len(self.write_times)}"
                twoformats.set_note(record, note)
                self.client.set(key, json.dumps(record), keepttl=True)
                self.last[key] = note
                self.write_times.append(time.monotonic())
                time.sleep(0.0005)
        finally:
            self.client.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)

    def writes_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.write_times if start <= t <= end)


def expected_user_data(original: dict, note: str | None) -> dict:
    """The user fields a session must hold in format 2: the original, plus the user's last note."""
    record = twoformats.migrate(copy.deepcopy(original), 2)
    if note is not None:
        twoformats.set_note(record, note)
    return {field: record[field] for field in twoformats.USER_FIELDS}
