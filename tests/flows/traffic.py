"""Steady HTTP load for release tests: fixed rate, keep-alive, no retries, every response counted.

Only loopback targets; bounded by the caller's stop() and by ``max_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx


class Traffic:
    def __init__(self, url: str, *, rate: float = 100.0, workers: int = 8, max_seconds: float = 300.0,
                 timeout: float = 5.0, cookie: str | None = None) -> None:
        assert url.startswith(("http://127.0.0.1", "http://localhost")), "load goes to loopback only"
        self.url, self.rate, self.workers, self.timeout = url, rate, workers, timeout
        self.max_seconds = max_seconds
        self.cookie = cookie
        self.counts: Counter[str] = Counter()
        self.first_bad: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> "Traffic":
        for i in range(self.workers):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> Counter[str]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 2)
        return self.counts

    @property
    def failed(self) -> int:
        return sum(n for kind, n in self.counts.items() if kind != "ok")

    def _run(self, index: int) -> None:
        interval = self.workers / self.rate
        deadline = time.monotonic() + self.max_seconds
        next_at = time.monotonic() + index * interval / self.workers
        with httpx.Client(timeout=self.timeout, cookies={"tiny_session": self.cookie} if self.cookie else None) as c:
            while not self._stop.is_set() and time.monotonic() < deadline:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += interval
                kind = self._one(c)
                with self._lock:
                    self.counts[kind] += 1
                    if kind != "ok" and self.first_bad is None:
                        self.first_bad = time.time()

    def _one(self, client: httpx.Client) -> str:
        if not self.cookie:
            client.cookies.clear()  # every request a new visitor: follows the weights, not a pin
        try:
            status = client.get(self.url).status_code
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError:
            return "connection-error"
        return "ok" if status < 400 else f"{status // 100}xx"
